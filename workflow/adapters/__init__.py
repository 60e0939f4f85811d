"""What the application talks to: the database (unit of work, repositories, migrations), the
revue's files (XLSX, CSV) and the wording of emails (Jinja2 templates)."""
