from producers.game.clock import DecisionBook
from schemas.enums import DecisionStatus, GateDecision, SpawnType
from schemas.records import Action
from tests import samples


def test_the_book_applies_in_time_sends_and_counts_the_rest():
    book = DecisionBook(n_territories=4, seq=5)
    send = samples.decision(0, 5, action=Action(2, SpawnType.GUARD))
    wait = samples.decision(1, 5, gate_decision=GateDecision.WAIT)
    book.offer(send)
    book.offer(wait)
    book.offer(samples.decision(0, 5))  # a second decision for territory 0
    book.offer(samples.decision(2, 4))  # made for the previous tick: late
    book.offer(samples.decision(9, 5))  # not a territory of this world
    action, apply = book.actions()
    assert action.tolist() == [2 * 4 + 3, 3 * 4 + 1, -1, -1]  # (chunk, type) joint indices
    assert apply.tolist() == [True, False, False, False]
    assert book.status(0) == (send.decision_id, DecisionStatus.APPLIED)
    assert book.status(1) == (wait.decision_id, DecisionStatus.WAITED)
    assert book.status(2) == (None, DecisionStatus.MISSING)
    assert (book.late, book.duplicates, book.unknown) == (1, 1, 1)
