"""Shadowed sessions played as scripts: what the candidate is sent, what is handed over."""

from __future__ import annotations

from typing import Any

from boltproxy.bolt import messages
from boltproxy.bolt.framing import chunk
from boltproxy.bolt.messages import Tag
from boltproxy.proxy.bookmarks import BookmarkMap
from boltproxy.proxy.mirror import MirrorPolicy, summary_bookmark
from boltproxy.proxy.session import (
    ClientSession,
    CloseClient,
    CloseLink,
    Command,
    LinkFailure,
    LinkRole,
    MirrorPlan,
    OpenLink,
    SendToClient,
    SendToLink,
    SetDeadline,
    Shadowed,
)
from boltproxy.shadow.settings import ShadowRule, ShadowSettings
from tests.support.rawbolt import decode_all
from tests.unit.test_session import (
    ADVERTISED,
    HELLO,
    LEGACY_HANDSHAKE,
    LIMITS,
    LOGON,
    PULL,
    RELAYABLE,
    RUN,
    Recorder,
    msg,
    record,
    success,
)

PRIMARY, MIRROR = 1, 2
MIRROR_IDLE = SetDeadline(None, "nothing", "mirror")
MIRROR_WAIT = SetDeadline(30.0, "30 s for the candidate", "mirror")
WRITE = msg(Tag.RUN, "CREATE (n:T {v: $v}) RETURN n.v AS v", {"v": 1}, {})


def shadowed(
    recorder: Recorder | None = None,
    bookmarks: BookmarkMap | None = None,
    policy: MirrorPolicy | None = None,
    **settings: Any,
) -> ClientSession:
    """A shadowed session whose primary and candidate both agreed on Bolt 5.8."""
    bookmarks = bookmarks or BookmarkMap()  # one map, as the server gives both
    plan = MirrorPlan(
        backend="green",
        policy=policy or MirrorPolicy(ShadowSettings(**settings)),
        bookmarks=bookmarks,
        manifest=False,
    )
    session = ClientSession(
        primary="blue",
        relayable=RELAYABLE,
        backend_manifest=False,
        advertised_address=ADVERTISED,
        observer=recorder or Recorder(),
        limits=LIMITS,
        mirror=plan,
        bookmarks=bookmarks,
        session_id="s1",
        clock=lambda: 0.0,
    )
    session.start()
    session.client_data(LEGACY_HANDSHAKE)
    commands = session.link_negotiated(PRIMARY, (5, 8))
    assert OpenLink(MIRROR, "green", [((5, 8), 0)], False, LinkRole.MIRROR) in commands
    return session


def to(link: int, commands: list[Command]) -> bytes:
    return b"".join(bytes(c.data) for c in commands if isinstance(c, SendToLink) and c.link == link)


def requests(data: bytes) -> list[tuple[int, list[Any]]]:
    return decode_all(data)


def logged_in_pair(
    recorder: Recorder | None = None,
    policy: MirrorPolicy | None = None,
    bookmarks: BookmarkMap | None = None,
    **settings: Any,
) -> ClientSession:
    session = shadowed(recorder, bookmarks, policy, **settings)
    assert session.link_negotiated(MIRROR, (5, 8)) == []
    commands = session.client_data(HELLO + LOGON)
    assert to(PRIMARY, commands) == HELLO + LOGON
    sent = requests(to(MIRROR, commands))
    assert [tag for tag, _ in sent] == [Tag.HELLO, Tag.LOGON]
    assert MIRROR_WAIT in commands
    replies = success(server="Neo4j/5.26.0") + success()
    session.link_data(PRIMARY, replies)
    assert session.link_data(MIRROR, success(server="Neo4j/2026.08.1") + success()) == [
        MIRROR_IDLE
    ]
    return session


def test_a_read_is_run_on_both_and_handed_over_with_both_answers() -> None:
    session = logged_in_pair()
    commands = session.client_data(RUN + PULL)
    assert to(PRIMARY, commands) == RUN + PULL
    (run, pull) = requests(to(MIRROR, commands))
    assert run[1][0] == "RETURN 1 AS x"
    assert run[1][2]["tx_metadata"] == {"boltproxy": "shadow"}
    assert run[1][2]["notifications_minimum_severity"] == "INFORMATION"
    assert pull == (Tag.PULL, [{"n": -1}])
    primary = success(fields=["x"]) + record(1) + success(type="r")
    # The client gets the primary's answer untouched; nothing is handed over yet.
    assert session.link_data(PRIMARY, primary) == [SendToClient(primary)]
    candidate = success(fields=["x"]) + record(2) + success(type="r")
    commands = session.link_data(MIRROR, candidate)
    assert commands[0] == MIRROR_IDLE
    (handed,) = [c for c in commands if isinstance(c, Shadowed)]
    exchange = handed.exchange
    assert exchange.query == "RETURN 1 AS x" and exchange.session_id == "s1"
    assert exchange.primary.records == [messages.record([1])]
    assert exchange.candidate is not None
    assert exchange.candidate.records == [messages.record([2])]
    # Successes travel as received; the shadow worker decodes them, not the loop.
    assert exchange.primary.run_metadata is None
    assert exchange.primary.run_payload == messages.encode(Tag.SUCCESS, {"fields": ["x"]})
    exchange.primary.decode_payloads()
    exchange.candidate.decode_payloads()
    assert exchange.primary.run_metadata == {"fields": ["x"]}
    assert exchange.candidate.summary == {"type": "r"}
    assert not exchange.candidate_explained


def test_a_write_in_reads_mode_is_only_compiled_on_the_candidate() -> None:
    session = logged_in_pair()
    commands = session.client_data(WRITE + PULL)
    (run, _) = requests(to(MIRROR, commands))
    assert run[1][0] == "EXPLAIN CREATE (n:T {v: $v}) RETURN n.v AS v"
    assert run[1][1] == {"v": 1}  # the client's parameters, as packed


def test_writes_run_on_the_candidate_in_all_mode() -> None:
    session = logged_in_pair(mode="all")
    (run, _) = requests(to(MIRROR, session.client_data(WRITE + PULL)))
    assert run[1][0] == "CREATE (n:T {v: $v}) RETURN n.v AS v"


def test_at_the_cap_of_candidate_work_a_new_unit_is_shed_whole_and_counted() -> None:
    policy = MirrorPolicy(ShadowSettings(max_concurrent=1))
    first, second = logged_in_pair(policy=policy), logged_in_pair(policy=policy)
    assert to(MIRROR, first.client_data(RUN + PULL))  # the candidate works for the first
    assert policy.busy == 1
    # The second session's query runs on the primary only: nothing reaches the candidate.
    commands = second.client_data(RUN + PULL)
    assert to(PRIMARY, commands) == RUN + PULL and to(MIRROR, commands) == b""
    answer = success(fields=["x"]) + record(1) + success(type="r")
    assert second.link_data(PRIMARY, answer) == [SendToClient(answer)]  # nothing handed over
    assert policy.shed == 1
    # A whole transaction is shed, not a part of it.
    read_tx = msg(Tag.BEGIN, {"mode": "r"}) + RUN + PULL + msg(Tag.COMMIT)
    assert to(MIRROR, second.client_data(read_tx)) == b""
    assert policy.shed == 2
    # Once the candidate has answered the first session, the next unit is mirrored again.
    first.link_data(PRIMARY, answer)
    first.link_data(MIRROR, answer)
    assert policy.busy == 0
    sent = requests(to(MIRROR, second.client_data(RUN + PULL)))
    assert [tag for tag, _ in sent] == [Tag.RUN, Tag.PULL]
    assert policy.busy == 1 and policy.shed == 2


def test_dual_writes_are_never_shed_reads_are() -> None:
    policy = MirrorPolicy(ShadowSettings(mode="all", max_concurrent=1))
    first, second = logged_in_pair(policy=policy), logged_in_pair(policy=policy)
    first.client_data(RUN + PULL)
    read = msg(Tag.RUN, "MATCH (n) RETURN n", {}, {"mode": "r"})
    assert to(MIRROR, second.client_data(read + PULL)) == b""
    second.link_data(PRIMARY, success(fields=["n"]) + success(type="r"))
    sent = requests(to(MIRROR, second.client_data(WRITE + PULL)))
    assert sent[0][1][0] == "CREATE (n:T {v: $v}) RETURN n.v AS v"
    assert policy.shed == 1 and policy.busy == 2


def test_a_dropped_mirror_no_longer_counts_as_candidate_work() -> None:
    policy = MirrorPolicy(ShadowSettings(max_concurrent=1))
    session = logged_in_pair(policy=policy)
    session.client_data(RUN + PULL)
    assert policy.busy == 1
    session.deadline_expired("30 s for the candidate", "mirror")
    assert policy.busy == 0


def test_excluded_queries_are_compiled_not_compared() -> None:
    session = logged_in_pair(exclude=[ShadowRule(shape="RETURN *")])
    (run, _) = requests(to(MIRROR, session.client_data(RUN + PULL)))
    assert run[1][0].startswith("EXPLAIN ")
    session.link_data(PRIMARY, success(fields=["x"]) + record(1) + success())
    commands = session.link_data(MIRROR, success(fields=[]) + success(plan={}))
    assert not any(isinstance(c, Shadowed) for c in commands)


def test_bookmarks_are_translated_through_the_commits_both_sides_made() -> None:
    bookmarks = BookmarkMap()
    session = shadowed(bookmarks=bookmarks, mode="all")
    session.link_negotiated(MIRROR, (5, 8))
    session.client_data(HELLO + LOGON)
    session.link_data(PRIMARY, success(server="Neo4j/5.26.0") + success())
    session.link_data(MIRROR, success(server="Neo4j/2026.08.1") + success())
    session.client_data(msg(Tag.BEGIN, {}) + WRITE + PULL + msg(Tag.COMMIT))
    session.link_data(PRIMARY, success() + success(fields=["v"]) + record(1) + success())
    session.link_data(PRIMARY, success(bookmark="blue:7"))
    session.link_data(MIRROR, success() + success(fields=["v"]) + record(1) + success())
    session.link_data(MIRROR, success(bookmark="green:3"))
    commands = session.client_data(msg(Tag.BEGIN, {"bookmarks": ["blue:7", "blue:unknown"]}))
    (begin,) = requests(to(MIRROR, commands))
    assert begin[1][0]["bookmarks"] == ["green:3"]
    # The primary gets the client's bookmarks as they were.
    assert to(PRIMARY, commands) == msg(Tag.BEGIN, {"bookmarks": ["blue:7", "blue:unknown"]})


def test_an_auto_commit_query_pairs_the_bookmarks_both_sides_ended_with() -> None:
    session = logged_in_pair(bookmarks=BookmarkMap())
    session.client_data(RUN + PULL)
    done = success(type="r", bookmark="blue:9", t_last=1, db="neo4j")
    session.link_data(PRIMARY, success(fields=["x"]) + record(1) + done)
    session.link_data(MIRROR, success(fields=["x"]) + record(1) + success(bookmark="green:4"))
    commands = session.client_data(msg(Tag.BEGIN, {"bookmarks": ["blue:9"]}))
    (begin,) = requests(to(MIRROR, commands))
    assert begin[1][0]["bookmarks"] == ["green:4"]


def test_the_bookmark_is_read_from_a_raw_success_without_decoding_it_all() -> None:
    def payload(**metadata: Any) -> bytes:
        return messages.encode(Tag.SUCCESS, metadata)

    assert summary_bookmark(payload(stats={"nodes-created": 1}, bookmark="b:1", db="x")) == "b:1"
    many = {f"k{i}": [i, {"bookmark": "inner"}] for i in range(20)}
    assert summary_bookmark(payload(**many)) is None  # only top-level keys count
    assert summary_bookmark(payload(**many, bookmark="b:2")) == "b:2"
    assert summary_bookmark(payload(bookmark=7)) is None
    assert summary_bookmark(payload()) is None and summary_bookmark(None) is None


def test_a_candidate_failure_is_reset_by_the_proxy_before_the_next_request() -> None:
    session = logged_in_pair()
    session.client_data(RUN + PULL)
    session.link_data(PRIMARY, success(fields=["x"]) + record(1) + success())
    failure = chunk(messages.failure("Neo.ClientError.Statement.SyntaxError", "no", (5, 8)))
    commands = session.link_data(MIRROR, failure + chunk(messages.ignored()))
    (handed,) = [c for c in commands if isinstance(c, Shadowed)]
    assert handed.exchange.candidate is not None
    assert handed.exchange.candidate.failure is not None
    commands = session.client_data(RUN + PULL)
    assert [tag for tag, _ in requests(to(MIRROR, commands))] == [Tag.RESET, Tag.RUN, Tag.PULL]


def test_overflow_drops_the_mirror_and_never_the_client() -> None:
    recorder = Recorder()
    session = logged_in_pair(recorder, queue_entries=3)
    commands = session.client_data(RUN + PULL)
    assert to(MIRROR, commands)
    commands = session.client_data(RUN + PULL)  # four requests await the candidate
    assert to(PRIMARY, commands) == RUN + PULL
    assert to(MIRROR, commands) == b""
    assert CloseLink(MIRROR, "the candidate fell too far behind") in commands
    assert ("candidate", "dropped") in recorder.sides
    # The primary's answers complete the captures, handed over as dropped.
    answer = success(fields=["x"]) + record(1) + success()
    handed = [c for c in session.link_data(PRIMARY, answer + answer) if isinstance(c, Shadowed)]
    # Both queries were still owed by the candidate when it was dropped.
    assert [h.exchange.candidate_missing for h in handed] == ["dropped", "dropped"]
    # From now on the session is relayed alone.
    assert session.client_data(RUN + PULL) == [SendToLink(PRIMARY, RUN + PULL)]


def test_a_candidate_that_cannot_be_reached_costs_the_client_nothing() -> None:
    recorder = Recorder()
    session = shadowed(recorder)
    commands = session.link_failed(MIRROR, LinkFailure.UNREACHABLE, "green: refused")
    assert not any(isinstance(c, CloseClient) for c in commands)
    assert session.client_data(HELLO + LOGON) == [
        SendToLink(PRIMARY, HELLO + LOGON),
        SetDeadline(30, "the client to log in"),
    ]
    assert recorder.sides == [("candidate", "dropped")]


def test_a_silent_candidate_times_out_into_a_missing_answer() -> None:
    session = logged_in_pair()
    session.client_data(RUN + PULL)
    commands = session.deadline_expired("30 s for the candidate", "mirror")
    assert CloseLink(MIRROR, "no answer within 30 s for the candidate") in commands
    handed = session.link_data(PRIMARY, success(fields=["x"]) + record(1) + success())
    (shadow,) = [c for c in handed if isinstance(c, Shadowed)]
    assert shadow.exchange.candidate_missing == "timeout"


def test_a_slow_reader_candidate_is_dropped_not_waited_for() -> None:
    session = logged_in_pair()
    commands = session.link_congested(MIRROR)
    assert CloseLink(MIRROR, "the candidate reads too slowly") in commands
    assert session.link_congested(PRIMARY) == []


def test_a_late_candidate_gets_the_whole_conversation_in_order() -> None:
    session = shadowed()
    session.client_data(HELLO + LOGON)
    session.link_data(PRIMARY, success(server="Neo4j/5.26.0") + success())
    assert to(MIRROR, session.client_data(msg(Tag.BEGIN, {}) + RUN + PULL)) == b""
    # Queued while its link was opening: nothing is skipped, nothing is half-mirrored.
    commands = session.link_negotiated(MIRROR, (5, 8))
    assert [tag for tag, _ in requests(to(MIRROR, commands))] == [Tag.HELLO, Tag.LOGON]
    assert MIRROR_WAIT in commands
    # The transaction goes once the login is answered (and known to have worked).
    commands = session.link_data(MIRROR, success(server="Neo4j/2026.08.1") + success())
    assert [tag for tag, _ in requests(to(MIRROR, commands))] == [Tag.BEGIN, Tag.RUN, Tag.PULL]


def test_notification_filters_of_the_client_never_reach_the_candidate() -> None:
    session = shadowed()
    session.link_negotiated(MIRROR, (5, 8))
    hello = msg(
        Tag.HELLO,
        {"user_agent": "app/1", "notifications_minimum_severity": "OFF",
         "notifications_disabled_categories": ["DEPRECATION"]},
    )  # fmt: skip
    commands = session.client_data(hello)
    assert to(PRIMARY, commands) == hello
    ((_, (extra,)),) = requests(to(MIRROR, commands))
    assert extra == {"user_agent": "app/1"}


def test_the_candidate_may_finish_after_the_client_has_gone() -> None:
    session = logged_in_pair()
    goodbye = msg(Tag.GOODBYE)
    session.client_data(RUN + PULL)
    session.link_data(PRIMARY, success(fields=["x"]) + record(1) + success())
    commands = session.client_data(goodbye)
    # The client and the primary are done; the candidate keeps its link and its timer.
    assert CloseLink(PRIMARY, "GOODBYE") in commands
    assert not any(isinstance(c, CloseLink) and c.link == MIRROR for c in commands)
    assert MIRROR_WAIT in commands and isinstance(commands[-1], CloseClient)
    assert session.lingering
    commands = session.link_data(MIRROR, success(fields=["x"]) + record(1) + success())
    # Its GOODBYE waited for its answers (GOODBYE closes at once), then the link closes.
    assert commands[:3] == [
        SendToLink(MIRROR, goodbye),
        MIRROR_IDLE,
        CloseLink(MIRROR, "the candidate has answered"),
    ]
    assert [type(c) for c in commands[3:]] == [Shadowed]
    assert not session.lingering


def test_a_client_gone_before_the_candidate_link_opens_is_still_mirrored_whole() -> None:
    # A short session (login, one query, GOODBYE) can end before the candidate's
    # handshake has: the mirror lingers and replays it once its link is ready.
    session = shadowed()
    goodbye = msg(Tag.GOODBYE)
    session.client_data(HELLO + LOGON)
    session.link_data(PRIMARY, success(server="Neo4j/5.26.0") + success())
    session.client_data(RUN + PULL)
    session.link_data(PRIMARY, success(fields=["x"]) + record(1) + success())
    session.client_data(goodbye)
    assert session.lingering
    commands = session.link_negotiated(MIRROR, (5, 8))
    assert [tag for tag, _ in requests(to(MIRROR, commands))] == [Tag.HELLO, Tag.LOGON]
    commands = session.link_data(MIRROR, success(server="Neo4j/2026.08.1") + success())
    assert [tag for tag, _ in requests(to(MIRROR, commands))] == [Tag.RUN, Tag.PULL]
    commands = session.link_data(MIRROR, success(fields=["x"]) + record(1) + success())
    assert to(MIRROR, commands) == goodbye
    assert CloseLink(MIRROR, "the candidate has answered") in commands
    (handed,) = [c for c in commands if isinstance(c, Shadowed)]
    assert handed.exchange.candidate is not None and not session.lingering


def test_a_lingering_candidate_that_times_out_is_reported_missing() -> None:
    session = logged_in_pair()
    session.client_data(RUN + PULL)
    session.link_data(PRIMARY, success(fields=["x"]) + record(1) + success())
    session.client_eof()
    assert session.lingering
    commands = session.deadline_expired("30 s for the candidate", "mirror")
    (handed,) = [c for c in commands if isinstance(c, Shadowed)]
    assert handed.exchange.candidate_missing == "timeout"
    assert not session.lingering


def test_a_reset_waits_until_the_candidate_has_answered_what_came_before() -> None:
    # A RESET interrupts work in flight: the slower candidate must finish first.
    session = logged_in_pair()
    session.client_data(RUN + PULL)
    session.link_data(PRIMARY, success(fields=["x"]) + record(1) + success())
    reset = msg(Tag.RESET)
    commands = session.client_data(reset + RUN + PULL)
    assert to(PRIMARY, commands) == reset + RUN + PULL
    assert to(MIRROR, commands) == b""
    commands = session.link_data(MIRROR, success(fields=["x"]) + record(1) + success())
    assert [tag for tag, _ in requests(to(MIRROR, commands))] == [Tag.RESET]
    assert any(isinstance(c, Shadowed) for c in commands)
    # The next query is a unit of work of its own: it waits for the RESET's answer.
    commands = session.link_data(MIRROR, success())
    assert [tag for tag, _ in requests(to(MIRROR, commands))] == [Tag.RUN, Tag.PULL]


def test_a_flip_swaps_roles_and_shadowing_continues_the_other_way() -> None:
    routing = {"primary": "blue"}
    plan = MirrorPlan("green", MirrorPolicy(ShadowSettings()), BookmarkMap(), False)
    session = ClientSession(
        primary="blue",
        relayable=RELAYABLE,
        backend_manifest=False,
        advertised_address=ADVERTISED,
        observer=Recorder(),
        limits=LIMITS,
        mirror=plan,
        route=lambda current: routing["primary"],  # type: ignore[arg-type,return-value]
        clock=lambda: 0.0,
    )
    session.start()
    session.client_data(LEGACY_HANDSHAKE)
    session.link_negotiated(PRIMARY, (5, 8))
    session.link_negotiated(MIRROR, (5, 8))
    session.client_data(HELLO + LOGON)
    session.link_data(PRIMARY, success(server="Neo4j/5.26.0") + success())
    session.link_data(MIRROR, success(server="Neo4j/2026.08.1") + success())
    session.client_data(RUN + PULL)
    answer = success(fields=["x"]) + record(1) + success()
    session.link_data(PRIMARY, answer)
    routing["primary"] = "green"
    # The candidate still owes its answer: the next query waits for it.
    commands = session.client_data(RUN + PULL)
    assert to(PRIMARY, commands) == b"" and to(MIRROR, commands) == b""
    # Once it has answered, green's link (logged in already) takes the query…
    commands = session.link_data(MIRROR, answer)
    assert to(MIRROR, commands) == RUN + PULL
    assert not any(isinstance(c, OpenLink) for c in commands)
    # …and blue, the old primary, is now the candidate: the same query is mirrored there.
    (run, _) = requests(to(PRIMARY, commands))
    assert run[1][2]["tx_metadata"] == {"boltproxy": "shadow"}
    # Green answers the client; blue's answer completes the comparison.
    assert session.link_data(MIRROR, answer) == [SendToClient(answer)]
    handed = session.link_data(PRIMARY, answer)
    assert [type(c) for c in handed if isinstance(c, Shadowed)] == [Shadowed]
