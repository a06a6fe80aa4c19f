"""Case life cycle: opening, capacity, races, notes visibility, the encrypted transcript."""

from __future__ import annotations

import pytest
from tests.cases.case_support import case, staff
from sqlalchemy import select, text

from bot import transcript
from bot.cases import service
from bot.cases.crypto import Keyring
from bot.cases.models import CaseEntry, CaseStatus, Consent, Risk, Role
from bot.db import Database
from bot.messages import BotReply
from bot.models import Sender


def test_a_second_request_raises_the_risk_of_the_open_case(database: Database) -> None:
    with database.session() as session:
        first = case(session, "a" * 16, Risk.HIGH)
        again = case(session, "a" * 16, Risk.IMMINENT)
        assert again.id == first.id and first.risk == Risk.IMMINENT and first.priority == 3
        stale_no = case(session, "a" * 16, Risk.HIGH, Consent.DECLINED)
        assert stale_no.id == first.id and first.status == CaseStatus.WAITING


def test_declining_leaves_a_record_without_transcript_and_the_child_may_ask_later(database: Database) -> None:
    with database.session() as session:
        declined = case(session, "a" * 16, Risk.HIGH, Consent.DECLINED)
        assert declined.status == CaseStatus.DECLINED and declined.waiting_since is None
        later = case(session, "a" * 16, Risk.HIGH, Consent.GIVEN)
        assert later.id != declined.id and later.status == CaseStatus.WAITING
        assert service.queue(session) == [later]


def test_capacity_refuses_one_case_too_many(database: Database) -> None:
    with database.session() as session:
        lan = staff(session, "lan", capacity=1)
        first, second = case(session, "a" * 16), case(session, "b" * 16)
        service.take(session, first.id, lan)
        with pytest.raises(service.CapacityExceeded):
            service.take(session, second.id, lan)
        assert second.status == CaseStatus.WAITING


def test_a_case_is_taken_once(database: Database) -> None:
    with database.session() as session:
        lan, minh = staff(session, "lan"), staff(session, "minh")
        waiting = case(session, "a" * 16)
        service.take(session, waiting.id, lan)
        with pytest.raises(service.WrongState):
            service.take(session, waiting.id, minh)
        assert waiting.assigned_to_id == lan.id


def test_transfer_respects_the_receivers_capacity_and_only_the_owner_transfers(database: Database) -> None:
    with database.session() as session:
        lan, minh, full = staff(session, "lan"), staff(session, "minh"), staff(session, "full", capacity=1)
        active = case(session, "a" * 16)
        service.take(session, active.id, lan)
        service.take(session, case(session, "b" * 16).id, full)
        with pytest.raises(service.NotAllowed):
            service.transfer(session, active.id, minh, minh.id)
        with pytest.raises(service.CapacityExceeded):
            service.transfer(session, active.id, lan, full.id)
        service.transfer(session, active.id, lan, minh.id)
        assert active.assigned_to_id == minh.id


def test_closing_needs_an_outcome_and_the_owner_or_a_supervisor(database: Database) -> None:
    with database.session() as session:
        lan, minh, ha = staff(session, "lan"), staff(session, "minh"), staff(session, "ha", Role.SUPERVISOR)
        active = case(session, "a" * 16)
        service.take(session, active.id, lan)
        with pytest.raises(service.CaseError):
            service.close(session, active.id, lan, "")
        with pytest.raises(service.NotAllowed):
            service.close(session, active.id, minh, "supported")
        service.close(session, active.id, ha, "supported")
        assert active.status == CaseStatus.CLOSED and active.outcome == "supported"
        kinds = [e.kind for e in service.events(session, active)]
        assert kinds == ["created", "taken", "closed"]


def test_a_counsellor_cannot_see_another_counsellors_closed_case_notes(database: Database,
                                                                     keyring: Keyring) -> None:
    with database.session() as session:
        lan, minh = staff(session, "lan"), staff(session, "minh")
        ha = staff(session, "ha", Role.SUPERVISOR)
        closed = case(session, "a" * 16)
        service.take(session, closed.id, lan)
        service.add_note(session, closed, lan, "Trẻ ở với bà ngoại, an toàn tối nay.", keyring)
        service.close(session, closed.id, lan, "supported")

        assert service.can_view_notes(lan, closed) and service.can_view_notes(ha, closed)
        assert not service.can_view_notes(minh, closed)
        assert not service.can_view(minh, closed)
        with pytest.raises(service.NotAllowed):
            service.add_note(session, closed, minh, "x", keyring)
        [(_, text_)] = service.notes(session, closed, keyring)
        assert text_ == "Trẻ ở với bà ngoại, an toàn tối nay."


def test_the_transcript_is_encrypted_at_rest_with_the_preceding_messages(database: Database,
                                                                       keyring: Keyring) -> None:
    with database.session() as session:
        conversation = transcript.get_or_create_conversation(session, "web", "a" * 16)
        transcript.add_user_message(session, conversation, "xin chào")
        transcript.add_replies(session, conversation, [BotReply("Chào em!")])
        transcript.add_user_message(session, conversation, "bố em đánh em")
        opened = case(session, "a" * 16)
        service.sync_transcript(session, opened, keyring)
        transcript.add_replies(session, conversation, [BotReply("Chị là Lan.")], Sender.COUNSELLOR)
        service.sync_transcript(session, opened, keyring)
        service.sync_transcript(session, opened, keyring)  # idempotent

        texts = [e.text for e in service.transcript(session, opened, keyring)]
        raw = session.execute(text("SELECT body FROM case_entries")).scalars().all()
        entries = session.scalars(select(CaseEntry)).all()

    assert texts == ["xin chào", "Chào em!", "bố em đánh em", "Chị là Lan."]
    assert len(entries) == 4 and not any("đánh" in body or "Lan" in body for body in raw)
