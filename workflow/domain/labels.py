"""The French words people read for the domain's codes.

A code (`reperage`, `signer_contrat`, `sans_entree_jamais_venu`, `delai_jours`) is what the
events, the database and the scripts speak; a caseworker or a supervisor reads its label
(« Repérage », « Signature du contrat », « Sans entrée : jamais venu », « Délai (jours) ») in the
console, the tableaux, the emails and `case show`. Every closed list of `vocabulary` and
`lifecycle` has its table here, next to them, and `tests/unit/test_labels.py` checks that no
code is left without its word.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from workflow.domain.clock import PARIS
from workflow.domain.lifecycle import (
    ACTER_ENTREE,
    ACTER_SORTIE,
    AFFECTER_BINOME,
    ORIENTER,
    POSER_DIAGNOSTIC,
    RECUEILLIR_ADHESION,
    RENOUVELER,
    SIGNALER_ECHU,
    SIGNER_CONTRAT,
    SORTIR,
    State,
)
from workflow.domain.vocabulary import (
    AppointmentKind,
    AppointmentOutcome,
    DiagnosticKind,
    EmailStatus,
    ExitReason,
    Opinion,
    Origin,
    PersonStatus,
    ProfessionalBarrier,
    ReminderKind,
    ReminderStatus,
    RenewalDecidedBy,
    Role,
    SocialBarrier,
)

STATES: Mapping[str, str] = {
    State.REPERAGE: "Repérage",
    State.DIAGNOSTIC: "Diagnostic partagé",
    State.CONTRAT: "Contrat",
    State.RENOUVELLEMENT: "Renouvellement",
    State.SORTIE: "Sortie",
}

TRIGGERS: Mapping[str, str] = {
    ORIENTER: "Orientation",
    AFFECTER_BINOME: "Affectation du binôme",
    RECUEILLIR_ADHESION: "Recueil de l'adhésion",
    POSER_DIAGNOSTIC: "Diagnostic posé",
    SIGNER_CONTRAT: "Signature du contrat",
    RENOUVELER: "Renouvellement",
    SORTIR: "Sortie",
    ACTER_ENTREE: "Entrée actée en revue",
    ACTER_SORTIE: "Sortie actée en revue",
    SIGNALER_ECHU: "Contrat échu signalé à la revue",
}

# What a refused access was an attempt at (`access_denial.action`): reading, or a trigger.
ACCESS_ACTIONS: Mapping[str, str] = {"read": "Lecture", **TRIGGERS}

EXIT_REASONS: Mapping[str, str] = {
    ExitReason.EMPLOI: "Emploi",
    ExitReason.FORMATION: "Formation",
    ExitReason.AUTONOMIE: "Autonomie",
    ExitReason.PROBLEME_SOCIAL_RESOLU: "Problème social résolu",
    ExitReason.FIN_EXPLICITE: "Fin explicite (à la demande)",
    ExitReason.FIN_IMPLICITE: "Fin implicite (absences)",
    ExitReason.FIN_INSCRIPTION: "Fin d'inscription",
    ExitReason.RADIATION: "Radiation",
    ExitReason.DUREE_MAXIMALE: "Durée maximale atteinte",
    ExitReason.REORIENTATION_SOCIALE: "Réorientation sociale",
    ExitReason.AUTRE_REORIENTATION: "Autre réorientation",
    ExitReason.SANS_ENTREE_REFUS: "Sans entrée : refus",
    ExitReason.SANS_ENTREE_DESACCORD: "Sans entrée : désaccord du binôme",
    ExitReason.SANS_ENTREE_JAMAIS_VENU: "Sans entrée : jamais venu",
}

ROLES: Mapping[str, str] = {
    Role.CONSEILLER: "Conseiller France Travail",
    Role.REFERENT_SOCIAL: "Référent social",
    Role.ORIENTEUR: "Orienteur",
    Role.REFERENT_AG: "Référent accompagnement global",
    Role.SUPERVISEUR: "Superviseur",
    Role.OPERATEUR: "Opérateur",
    Role.SYSTEME: "Système d'information",
}

ORIGINS: Mapping[str, str] = {
    Origin.FRANCE_TRAVAIL: "France Travail",
    Origin.DEPARTEMENT: "Département",
    Origin.VILLE_STRASBOURG: "Ville de Strasbourg",
    Origin.PF1: "Plateforme nouveaux entrants RSA (PF1)",
    Origin.PF2: "Plateforme Job Coaching (PF2)",
}

PERSON_STATUSES: Mapping[str, str] = {
    PersonStatus.BRSA: "BRSA",
    PersonStatus.ASS: "ASS",
    PersonStatus.ARE: "ARE",
    PersonStatus.BOE: "BOE",
    PersonStatus.AUTRE: "Autre",
}

BARRIERS: Mapping[str, str] = {
    SocialBarrier.SANTE: "Santé",
    SocialBarrier.PRECARITE_FINANCIERE: "Précarité financière",
    SocialBarrier.LOGEMENT: "Logement",
    SocialBarrier.ADMINISTRATIF_JURIDIQUE: "Administratif ou juridique",
    SocialBarrier.CONTRAINTES_FAMILIALES: "Contraintes familiales",
    SocialBarrier.ISOLEMENT: "Isolement",
    SocialBarrier.AUTRE_SOCIAL: "Autre frein social",
    ProfessionalBarrier.PROJET_A_DEFINIR: "Projet à définir",
    ProfessionalBarrier.ABSENCE_QUALIFICATION: "Absence de qualification",
    ProfessionalBarrier.MANQUE_EXPERIENCE: "Manque d'expérience",
    ProfessionalBarrier.MOBILITE: "Mobilité",
    ProfessionalBarrier.ELOIGNEMENT_EMPLOI: "Éloignement de l'emploi",
    ProfessionalBarrier.AUTRE_PROFESSIONNEL: "Autre frein professionnel",
}

DIAGNOSTIC_KINDS: Mapping[str, str] = {
    DiagnosticKind.PARTAGE: "Diagnostic partagé",
    DiagnosticKind.CONFIANCE_RECIPROQUE: "Diagnostic de confiance réciproque",
}

OPINIONS: Mapping[str, str] = {Opinion.FAVORABLE: "Favorable", Opinion.DEFAVORABLE: "Défavorable"}

RENEWAL_DECIDED_BY: Mapping[str, str] = {
    RenewalDecidedBy.BINOME: "Le binôme",
    RenewalDecidedBy.COMMISSION: "La commission mensuelle",
}

APPOINTMENT_KINDS: Mapping[str, str] = {
    AppointmentKind.DIAGNOSTIC: "Diagnostic",
    AppointmentKind.SOCIAL: "Social",
    AppointmentKind.EMPLOI: "Emploi",
    AppointmentKind.TRIPARTITE: "Tripartite",
}

APPOINTMENT_OUTCOMES: Mapping[str, str] = {
    AppointmentOutcome.PREVU: "Prévu",
    AppointmentOutcome.HONORE: "Honoré",
    AppointmentOutcome.ABSENT: "Absent",
    AppointmentOutcome.EXCUSE: "Excusé",
}

# What a reminder asks of the caseworker: the subject of its email, its name elsewhere.
REMINDER_KINDS: Mapping[str, str] = {
    ReminderKind.RDV_SOCIAL_MANQUE: "Absence au premier rendez-vous avec le travailleur social",
    ReminderKind.RDV_EMPLOI_MANQUE: "Absence au premier rendez-vous avec le conseiller emploi",
    ReminderKind.RDV_NON_TENU: "Premiers rendez-vous à tenir",
    ReminderKind.CONVOCATION: "Convocation à planifier",
    ReminderKind.ENTREE: "Délai d'entrée dépassé",
    ReminderKind.ECHEANCE: "Contrat bientôt à échéance",
    ReminderKind.ECHU: "Contrat échu sans décision",
}

# The rubriques of a revue's tableau (its sheets) and their columns.
REMINDER_STATUSES: Mapping[str, str] = {ReminderStatus.QUEUED: "envoyé", ReminderStatus.CANCELLED: "annulé"}

EMAIL_STATUSES: Mapping[str, str] = {
    EmailStatus.PENDING: "en attente",
    EmailStatus.SENDING: "en cours d'envoi",
    EmailStatus.SENT: "envoyé",
    EmailStatus.FAILED: "en échec",
}

RUBRIQUES: Mapping[str, str] = {
    "entrees": "Entrées à acter",
    "renouvellements": "Renouvellements",
    "sorties": "Sorties à acter",
    "a_debattre": "À débattre",
    "conseillers": "Conseillers",
    "chiffres": "Chiffres du mois",
}

COLUMNS: Mapping[str, str] = {
    "rubrique": "Rubrique",
    "dossier": "Dossier",
    "conseiller": "Conseiller",
    "referent_social": "Référent social",
    "orientation": "Orientation",
    "contrat": "Début du contrat",
    "diagnostic": "Diagnostic",
    "delai_jours": "Délai d'entrée (jours)",
    "fin_contrat": "Fin du contrat",
    "renouvellements": "Renouvellements",
    "renouvellement_possible": "Renouvellement possible",
    "sortie": "Sortie",
    "motif": "Motif",
    "reorientation_brsa": "Réorientation BRSA",
    "sujet": "Sujet",
    "depuis": "Depuis le",
    "actifs": "Dossiers actifs",
    "cible": "Cible",
    "entrees_du_mois": "Entrées du mois",
    "entrees": "Entrées",
    "sorties": "Sorties",
    "delai_moyen_entree_jours": "Délai moyen d'entrée (jours)",
    "decision": "Décision",
    "acteur": "Acteur",
}

# The columns of a tableau that hold a date, and those whose codes have words.
DATE_COLUMNS = frozenset({"orientation", "contrat", "fin_contrat", "sortie", "depuis"})
COLUMN_VALUES: Mapping[str, Mapping[str, str]] = {
    "motif": EXIT_REASONS,
    "diagnostic": DIAGNOSTIC_KINDS,
}

# Every table, for the filters of the console and the check that no code lacks its word.
TABLES: Mapping[str, Mapping[str, str]] = {
    "state": STATES,
    "trigger": TRIGGERS,
    "exit_reason": EXIT_REASONS,
    "role": ROLES,
    "origin": ORIGINS,
    "person_status": PERSON_STATUSES,
    "barrier": BARRIERS,
    "diagnostic_kind": DIAGNOSTIC_KINDS,
    "opinion": OPINIONS,
    "renewal_decided_by": RENEWAL_DECIDED_BY,
    "appointment_kind": APPOINTMENT_KINDS,
    "appointment_outcome": APPOINTMENT_OUTCOMES,
    "reminder_kind": REMINDER_KINDS,
    "rubrique": RUBRIQUES,
    "column": COLUMNS,
}


# The fields of a case, as the replay check names them.
CASE_FIELDS: Mapping[str, str] = {
    "state": "état", "convention_code": "convention", "convention_version_id": "version de la convention",
    "agence": "agence", "orienteur_id": "orienteur", "origin": "origine", "conseiller_id": "conseiller",
    "referent_social_id": "référent social", "consent": "adhésion", "diagnostic_kind": "diagnostic",
    "conseiller_opinion": "avis du conseiller", "referent_opinion": "avis du référent social",
    "orientation_date": "date d'orientation", "diagnostic_date": "date du diagnostic",
    "contract_start": "début du contrat", "contract_end": "fin du contrat",
    "renewal_count": "renouvellements", "renewal_date": "date du renouvellement",
    "exit_date": "date de sortie",
    "exit_reason": "motif de sortie", "revue_flag": "signalement à la revue",
    "revue_flagged_on": "date du signalement", "entry_acted_on": "entrée actée le",
    "exit_acted_on": "sortie actée le", "log_seq": "dernière ligne du journal",
    "log_hash": "empreinte de la dernière ligne", "next_reminder_on": "prochain rappel",
}  # fmt: skip


def word(table: Mapping[str, str], code: str | None) -> str:
    """The label of `code`, « — » for none; a code outside the table is shown as it is (an
    old row may hold a value the lists no longer have)."""
    if code is None or code == "":
        return "—"
    return table.get(code, code)


def state_change(source: str | None, dest: str) -> str:
    """A log row's move: « Repérage → Diagnostic partagé », « ∅ → Repérage » for an opening."""
    return f"{word(STATES, source) if source else '∅'} → {word(STATES, dest)}"


def yes_no(value: bool | None) -> str:
    return "—" if value is None else ("oui" if value else "non")


# The days a person may ask about: wide enough for any case, narrow enough that a day after
# it or before it is still a date (9999-12-31 has no next day).
FIRST_DAY, LAST_DAY = date(1900, 1, 1), date(2199, 12, 31)


def parse_day(text: str) -> date:
    """A day typed by a person (31/03/2026) or a script (2026-03-31), between 1900 and 2199;
    ValueError otherwise."""
    text = text.strip()
    if "/" in text:
        parts = text.split("/")
        if len(parts) != 3 or len(parts[2]) != 4 or not all(p.isascii() and p.isdigit() for p in parts):
            raise ValueError(text)
        day = date(int(parts[2]), int(parts[1]), int(parts[0]))
    else:
        day = date.fromisoformat(text)
    if not FIRST_DAY <= day <= LAST_DAY:
        raise ValueError(f"{text}: outside {FIRST_DAY.year}-{LAST_DAY.year}")
    return day


def day(value: date | str | None) -> str:
    """The one way a day is written for people: 25/12/2026."""
    if value is None or value == "":
        return "—"
    if isinstance(value, str):
        value = date.fromisoformat(value)
    return value.strftime("%d/%m/%Y")


def instant(value: datetime | str | None) -> str:
    """The one way an instant is written for people: 25/12/2026 16:15, Paris time (an ISO
    string with its offset is read first)."""
    if value is None or value == "":
        return "—"
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.astimezone(PARIS).strftime("%d/%m/%Y %H:%M")


MONTHS = ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre",
          "octobre", "novembre", "décembre")  # fmt: skip


def month(value: str | date) -> str:
    """'2026-11' or a day of November 2026 → « novembre 2026 »."""
    if isinstance(value, date):
        return f"{MONTHS[value.month - 1]} {value.year}"
    year, number = value.split("-")
    return f"{MONTHS[int(number) - 1]} {year}"


def percent(share: float) -> str:
    """A share as people read it: 0.342 → 34 %."""
    return f"{round(share * 100)} %"


def decimal(value: float) -> str:
    """A figure with one decimal, the French way: 72,5."""
    return f"{value:.1f}".replace(".", ",")


def portfolio_verdict(load: float, low: int, high: int) -> str:
    """Where a conseiller's portfolio stands against the convention's 70 to 100 (seed 001
    art. 3.2), for the portfolio and the forecast alike."""
    if load > high:
        return "au-dessus de la cible"
    return "sous la cible" if load < low else "dans la cible"


def cell(column: str, value: Any) -> str:
    """A tableau cell as people read it: dates written the French way, codes as words,
    booleans as oui/non."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return yes_no(value)
    if column in DATE_COLUMNS and isinstance(value, (str, date)):
        return day(value)
    if column in COLUMN_VALUES:
        return word(COLUMN_VALUES[column], str(value))
    if isinstance(value, float):
        return decimal(value)
    return str(value)
