"""Parsing the integration contract: each bad line gets a message naming what is wrong."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.factories import Story
from workflow.domain.events import EVENT_TYPES, InvalidEvent, json_schema, parse_line, payload_digest


def line(event: dict[str, Any]) -> str:
    return json.dumps(event)


def test_every_story_event_parses() -> None:
    s = Story()
    events = [
        *s.until_contract(), s.renewal(), s.appointment(), s.consent(True), s.exit("emploi"),
        s.registration_ended(), s.radiation(),
    ]  # fmt: skip
    assert {parse_line(line(e)).type for e in events} <= set(EVENT_TYPES)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"event_id": "e1", ', "JSON mal formé : Expecting property name enclosed in double quotes"),
        ("[1, 2]", "un événement est un objet JSON, pas une liste"),
        ('{"event_id": "e1"}', "champ 'type' manquant"),
        (
            '{"type": "contract_cancelled"}',
            "type d'événement inconnu 'contract_cancelled' (connus : orientation_proposed",
        ),
    ],
)
def test_unreadable_lines_are_explained(text: str, message: str) -> None:
    with pytest.raises(InvalidEvent) as exc:
        parse_line(text)
    assert message in str(exc.value)


def test_a_missing_field_is_named() -> None:
    event = Story().contract()
    del event["referent_social_id"]
    with pytest.raises(InvalidEvent, match="champ 'referent_social_id' manquant"):
        parse_line(line(event))


def test_a_date_without_offset_is_refused() -> None:
    event = Story().binome()
    event["occurred_at"] = "2026-03-02T10:00:00"
    with pytest.raises(InvalidEvent, match="champ 'occurred_at' : l'heure doit porter son fuseau"):
        parse_line(line(event))


def test_a_date_that_does_not_exist_is_refused() -> None:
    event = Story().binome()
    event["occurred_at"] = "2026-02-30T10:00:00+01:00"
    with pytest.raises(InvalidEvent, match="champ 'occurred_at'"):
        parse_line(line(event))


def test_a_value_outside_the_closed_list_is_refused() -> None:
    with pytest.raises(InvalidEvent, match=r"champ 'reason'.*'emploi'"):
        parse_line(line(Story().exit("found_a_job")))
    event = Story().orientation()
    event["barriers"] = {"social": ["dettes"], "professional": []}
    with pytest.raises(InvalidEvent, match=r"champ 'barriers.social.0'"):
        parse_line(line(event))


def test_an_unexpected_field_is_refused() -> None:
    event = Story().binome()
    event["nom"] = "Dupont"
    with pytest.raises(InvalidEvent, match="champ inattendu 'nom'"):
        parse_line(line(event))


def test_the_digest_tells_a_replay_from_a_reused_id() -> None:
    event = Story().binome()
    same = parse_line(line(event))
    assert payload_digest(same) == payload_digest(parse_line(line(event)))
    changed = {**event, "referent_social_id": "R67B"}
    assert payload_digest(same) != payload_digest(parse_line(line(changed)))


def test_the_json_schema_covers_every_type() -> None:
    schema = json.dumps(json_schema())
    for event_type in EVENT_TYPES:
        assert f'"const": "{event_type}"' in schema
