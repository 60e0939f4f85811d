"""The closed lists of the domain: statuses, roles, barriers, origins, exit reasons.

Every list here is quoted from the conventions in `shared/seeds/`; the event schema and the
guards accept nothing outside them.
"""

from __future__ import annotations

from enum import StrEnum


class PersonStatus(StrEnum):
    """Typology of the public (seed 004, art. 5.2 c: BRSA, ASS, ARE, BOE…)."""

    BRSA = "BRSA"
    ASS = "ASS"
    ARE = "ARE"
    BOE = "BOE"
    AUTRE = "autre"


class Role(StrEnum):
    CONSEILLER = "conseiller"  # conseiller dédié France Travail
    REFERENT_SOCIAL = "referent_social"  # travailleur social du Département ou délégataire
    ORIENTEUR = "orienteur"  # a professional or a platform that proposes a case
    # "le référent Accompagnement Global du Département en territoire" (seed 004 art. 2 e): told
    # at once when a BRSA misses a first appointment; acts on no case.
    REFERENT_AG = "referent_ag"
    SUPERVISEUR = "superviseur"
    OPERATEUR = "operateur"
    SYSTEME = "systeme"  # flows from other information systems (registration, radiation)


class Partner(StrEnum):
    """Whom a calling system speaks for (its API token says it): the two signatories of every
    convention, and the orientation platforms (seed 004 art. 2 a)."""

    FRANCE_TRAVAIL = "france_travail"
    DEPARTEMENT = "departement"
    PLATEFORME = "plateforme"


class Origin(StrEnum):
    """Origin of an orientation, an indicator of seed 004 art. 5.2 c and seed 002."""

    FRANCE_TRAVAIL = "france_travail"
    DEPARTEMENT = "departement"  # UTAMS, CDAS, MDS
    VILLE_STRASBOURG = "ville_strasbourg"
    PF1 = "pf1"  # plateforme d'orientation des nouveaux entrants RSA (seed 004)
    PF2 = "pf2"  # plateforme Job Coaching (seed 004)


# Seed 004 art. 2 e: platforms PF1 and PF2 always use the diagnostic de confiance réciproque.
PLATFORM_ORIGINS = frozenset({Origin.PF1, Origin.PF2})


class SocialBarrier(StrEnum):
    """Freins sociaux, seed 004 art. 2 b."""

    SANTE = "sante"
    PRECARITE_FINANCIERE = "precarite_financiere"
    LOGEMENT = "logement"
    ADMINISTRATIF_JURIDIQUE = "administratif_juridique"
    CONTRAINTES_FAMILIALES = "contraintes_familiales"
    ISOLEMENT = "isolement"
    AUTRE_SOCIAL = "autre_social"


class ProfessionalBarrier(StrEnum):
    """Freins professionnels, seed 004 art. 2 b."""

    PROJET_A_DEFINIR = "projet_a_definir"
    ABSENCE_QUALIFICATION = "absence_qualification"
    MANQUE_EXPERIENCE = "manque_experience"
    MOBILITE = "mobilite"
    ELOIGNEMENT_EMPLOI = "eloignement_emploi"
    AUTRE_PROFESSIONNEL = "autre_professionnel"


# Seed 004 art. 2 b: "Dans le cas de freins autres que ceux précités, l'intégration sera
# décidée après échange entre le conseiller emploi et le travailleur social."
OTHER_BARRIERS = frozenset({SocialBarrier.AUTRE_SOCIAL, ProfessionalBarrier.AUTRE_PROFESSIONNEL})
BARRIER_CODES = frozenset(SocialBarrier) | frozenset(ProfessionalBarrier)


class DiagnosticKind(StrEnum):
    PARTAGE = "partage"  # seeds 000/001 art. 3.4: both professionals
    CONFIANCE_RECIPROQUE = "confiance_reciproque"  # seed 004 art. 2 e: one professional


class Opinion(StrEnum):
    FAVORABLE = "favorable"
    DEFAVORABLE = "defavorable"


class RenewalDecidedBy(StrEnum):
    """Seed 004 art. 2 g: "par accord entre le binôme … ou lors de la commission mensuelle"."""

    BINOME = "binome"
    COMMISSION = "commission"


class AppointmentKind(StrEnum):
    DIAGNOSTIC = "diagnostic"
    SOCIAL = "social"
    EMPLOI = "emploi"
    TRIPARTITE = "tripartite"


class AppointmentOutcome(StrEnum):
    PREVU = "prevu"
    HONORE = "honore"
    ABSENT = "absent"
    EXCUSE = "excuse"


class ExitReason(StrEnum):
    """Motifs de sortie, seeds 000/001 art. 3.5, seed 004 art. 2 g and axe 3."""

    EMPLOI = "emploi"
    FORMATION = "formation"
    AUTONOMIE = "autonomie"
    PROBLEME_SOCIAL_RESOLU = "probleme_social_resolu"
    FIN_EXPLICITE = "fin_explicite"
    FIN_IMPLICITE = "fin_implicite"  # absences to appointments or convocations
    FIN_INSCRIPTION = "fin_inscription"  # cessation d'inscription
    RADIATION = "radiation"
    DUREE_MAXIMALE = "duree_maximale"
    REORIENTATION_SOCIALE = "reorientation_sociale"  # axe 3, accompagnement social exclusif
    AUTRE_REORIENTATION = "autre_reorientation"
    SANS_ENTREE_REFUS = "sans_entree_refus"  # no consent
    SANS_ENTREE_DESACCORD = "sans_entree_desaccord"  # no joint agreement
    SANS_ENTREE_JAMAIS_VENU = "sans_entree_jamais_venu"


# Reasons that only make sense before the contract (no entry) or only after it.
NO_ENTRY_REASONS = frozenset(
    {
        ExitReason.SANS_ENTREE_REFUS,
        ExitReason.SANS_ENTREE_DESACCORD,
        ExitReason.SANS_ENTREE_JAMAIS_VENU,
    }
)
AFTER_ENTRY_ONLY_REASONS = frozenset({ExitReason.DUREE_MAXIMALE})


class ReminderKind(StrEnum):
    """What a caseworker is reminded of ; each rule is in `workflow.domain.reminder_rules`."""

    # seed 004 art. 2 e: « en informer sans délai l'orienteur »; one kind per professional, as
    # the person may miss both first appointments the same day.
    RDV_SOCIAL_MANQUE = "premier_rdv_social_manque"
    RDV_EMPLOI_MANQUE = "premier_rdv_emploi_manque"
    RDV_NON_TENU = "premiers_rdv_non_tenus"  # seed 004 art. 2 e: « dans le mois suivant l'intégration »
    CONVOCATION = "convocation_en_retard"  # seed 003: « convocation du BRSA sous 15 jours »
    ENTREE = "delai_entree_depasse"  # seed 004 art. 2 e: 21 jours; seed 002: 3 semaines
    ECHEANCE = "echeance_contrat"  # seeds 000/001 art. 3.5, seed 004 art. 2 g
    ECHU = "contrat_echu_sans_decision"  # the day after the end, flagged for the next revue


class ReminderStatus(StrEnum):
    QUEUED = "queued"  # an email carries it
    CANCELLED = "cancelled"  # the case had moved on by its due day


class EmailStatus(StrEnum):
    PENDING = "pending"  # written, to be sent after commit
    SENDING = "sending"  # claimed by one worker for a lease
    SENT = "sent"
    FAILED = "failed"  # SMTP retries spent: `reminders list --failed`, `reminders retry`


class InboxStatus(StrEnum):
    """What became of an event a door accepted (`models.InboxEvent`)."""

    PENDING = "pending"
    APPLIED = "applied"
    DUPLICATE = "duplicate"
    REJECTED = "rejected"
