"""No input gives a server error: every URL, every role, hostile paths, queries and forms.

Hostile values: NUL, the UTF-8 bytes of lone surrogates, huge and negative numbers,
days at the ends of the calendar, overlong strings, other scripts' digits. Each URL
pattern of config.urls (namespaced includes and the admin too) is requested with them
in its path parameters and in the query parameters the views read, plus names no view
reads, by every role; the answer is a 4xx or a normal page, never a 5xx. Each
state-changing endpoint is posted hostile form values by the persona allowed to use it:
never a 5xx, and when every value is hostile no money moves.

Every pattern gets the same explicit examples (one per kind of value that once gave a
500) and a few generated ones. Generation is derandomized and nothing is kept between
runs, so a run never depends on an earlier one; HOSTILE_INPUT_EXAMPLES raises the number
of generated examples for a longer hunt (the default keeps the file near a minute).
"""

import os
import re
from datetime import date
from pathlib import Path
from urllib.parse import quote_from_bytes

import pytest
from django.test import Client
from django.urls import NoReverseMatch, URLPattern, URLResolver, get_resolver, reverse
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from float_management.models import Transfer
from float_management.verify import ledger_verify
from tests.agents.test_permission_matrix import ANON, MATRIX, PERSONAS
from tests.security.test_csrf_and_methods import (
    POST,
    _all_url_names,
    _request_of,
    world,  # noqa: F401 (a fixture, used through request.getfixturevalue)
)
from tests.security.test_fuzz_parsers import ALPHABET, DIGITS, OTHER_DIGITS

EXAMPLES = int(os.environ.get("HOSTILE_INPUT_EXAMPLES", "3"))
RUNS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# --- Hostile values ---------------------------------------------------------------------

NUL = "\x00"
SURROGATES = "\ud800\udfff\udc00"  # sent as their (invalid) UTF-8 bytes, as a client could
EDGE_NUMBERS = [0, -1, 2**31 - 1, 2**31, 2**63 - 1, 2**63, 2**64, 10**30, 10**100]
FAR_DAYS = [
    "9999-12-31",
    "0001-01-01",
    "0000-00-00",
    "10000-01-01",
    "-2026-01-01",
    "2026-02-30",
    "١٩٩٩-١٢-٣١",  # Arabic-Indic digits, far past
    "٩٩٩٩-١٢-٣١",
]

hostile_text = st.one_of(
    st.text(max_size=60),  # anything encodable
    st.text(alphabet=ALPHABET, max_size=40),  # near misses, NUL among them
    st.text(alphabet=st.sampled_from(OTHER_DIGITS + DIGITS), min_size=1, max_size=30),
    st.text(alphabet=st.sampled_from(SURROGATES + "a1"), min_size=1, max_size=6),
    st.text(min_size=1, max_size=10).map(lambda text: text + NUL),
    st.sampled_from(FAR_DAYS),
    st.dates().map(date.isoformat),  # years 1 to 9999
    st.sampled_from(EDGE_NUMBERS).map(str),
    st.integers(min_value=-(10**40), max_value=10**40).map(str),
    st.integers(min_value=500, max_value=5000).map(lambda n: "9" * n),  # overlong
    st.text(alphabet=st.sampled_from("aب١²%/"), min_size=1000, max_size=3000),
)


@pytest.fixture(autouse=True)
def _english(client):
    """These tests read the English messages (the app speaks Arabic unless told)."""
    client.cookies["django_language"] = "en"


def _encoded(text: str, *, safe: str = "") -> str:
    """Percent-encoded UTF-8, lone surrogates included (as bytes no decoder accepts)."""
    return quote_from_bytes(text.encode("utf-8", "surrogatepass"), safe=safe)


def _query_string(params: list[tuple[str, str]]) -> str:
    return "&".join(f"{_encoded(name)}={_encoded(value)}" for name, value in params)


# --- The 500s found by hand (issue 12, finding 9) ------------------------------------------

A_NUL_IN_THE_ADDRESS = [
    ("agent_a", "/counter/pay/%00/"),
    ("agent_a", "/counter/payments/%00/"),
    ("supervisor_a", "/dashboard/branches/%00/"),
    ("head_office", "/dashboard/governorates/%00/"),
    ("head_office", "/receipts/reports/branch/%00/"),
    ("head_office", "/settlement/?agency=%00"),
    ("agent_a", "/counter/citizens/search/?q=%00"),
    ("head_office", "/audit/?actor=a%00b"),
    ("head_office", "/audit/?%00=1"),
    (ANON, "/r/%00"),
    (ANON, "/accounts/login/?next=%00"),
    ("agent_a", "/counter/pay/%00%ED%A0%80/"),
]


@pytest.mark.parametrize(("persona", "url"), A_NUL_IN_THE_ADDRESS)
def test_a_nul_in_the_path_or_query_is_a_400_with_a_readable_message(personas, persona, url):
    client = Client()
    client.cookies["django_language"] = "en"
    if persona != ANON:
        client.force_login(personas[persona])
    response = client.get(url)
    assert response.status_code == 400, url
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    assert "character that is not allowed" in response.content.decode()


def test_the_nul_message_speaks_the_persons_language(agent_a):
    """Refused after the language is chosen: Arabic by default, English when chosen."""
    client = Client()
    client.force_login(agent_a)
    response = client.get("/counter/pay/%00/")
    assert (response.status_code, response["Content-Language"]) == (400, "ar")
    client.cookies["django_language"] = "en"
    response = client.get("/counter/pay/%00/")
    assert (response.status_code, response["Content-Language"]) == (400, "en")


def test_a_lone_surrogate_in_the_path_never_reaches_a_view_undecoded(client, agent_a):
    """Django keeps bytes that are not UTF-8 percent-encoded: no such service, a 404."""
    client.force_login(agent_a)
    assert client.get("/counter/pay/%ED%A0%80/").status_code == 404


def test_a_nul_refused_writes_nothing(client, agent_a, fixed_service, citizen, open_till):
    client.force_login(agent_a)
    transfers = Transfer.objects.count()
    response = client.post(
        "/counter/pay/LIC-RENEW/?citizen=%00",
        {"ref_licence": "123456", "method": "cash", "tendered": "100", "confirm": "1"},
    )
    assert response.status_code == 400
    assert Transfer.objects.count() == transfers


@pytest.mark.parametrize(
    "url",
    [
        "/receipts/reports/national/",
        "/receipts/reports/branch/A0001/",
        "/receipts/reports/governorate/01/",
    ],
)
@pytest.mark.parametrize("day", ["9999-12-31", "0001-01-01", "٩٩٩٩-١٢-٣١"])
def test_a_report_of_a_day_at_the_ends_of_the_calendar_says_which_days_exist(
    client, head_office, branch_a, url, day
):
    client.force_login(head_office)
    response = client.get(url, {"day": day})
    assert response.status_code == 200
    assert response.context["report"] is None
    assert (
        "Enter a day between 2000-01-01 and 2099-12-31." in response.context["form"].errors["day"]
    )
    for output in ("csv", "pdf"):
        response = client.get(url, {"day": day, "format": output})
        assert response.status_code == 400
        assert "2099-12-31" in response.content.decode()


def test_a_report_of_the_last_day_allowed_is_a_page(client, head_office):
    client.force_login(head_office)
    for day in ("2000-01-01", "2099-12-31"):
        response = client.get(reverse("report_national"), {"day": day})
        assert response.status_code == 200
        assert response.context["report"] is not None


@pytest.mark.parametrize(("field", "day"), [("until", "9999-12-31"), ("since", "0001-01-01")])
def test_the_audit_log_refuses_a_day_at_the_ends_of_the_calendar(client, auditor, field, day):
    client.force_login(auditor)
    response = client.get(reverse("audit:list"), {field: day})
    assert response.status_code == 200
    assert response.context["form"].errors[field] == [
        "Enter a day between 2000-01-01 and 2099-12-31."
    ]
    assert response.context["entries"] == []


@pytest.mark.parametrize("page", [str(2**63 - 1), str(2**63), "9" * 30, "٩" * 30])
def test_an_audit_page_past_any_possible_row_is_a_404(client, auditor, page):
    client.force_login(auditor)
    response = client.get(reverse("audit:list"), {"page": page})
    assert response.status_code == 404


def test_the_last_audit_page_the_database_can_count_to_is_empty(client, auditor):
    from audit.views import MAX_PAGE

    client.force_login(auditor)
    response = client.get(reverse("audit:list"), {"page": str(MAX_PAGE)})
    assert response.status_code == 200
    assert response.context["entries"] == []
    assert response.context["next_page"] is None


def test_settling_a_day_at_the_ends_of_the_calendar_is_refused_and_moves_no_money(
    client, head_office
):
    client.force_login(head_office)
    transfers = Transfer.objects.count()
    for day in ("0001-01-01", "1999-12-31"):
        response = client.post(reverse("settlement_run"), {"business_day": day})
        assert response.status_code == 200
        assert response.context["form"].errors["business_day"] == [
            "Enter a day between 2000-01-01 and 2099-12-31."
        ]
    assert Transfer.objects.count() == transfers


# --- Every URL pattern, with its path parameters ---------------------------------------

# Every parameter a view reads from request.GET (or gives a form as request.GET), and
# Django's own (next, language); `test_every_query_parameter_a_view_reads_is_sent`
# keeps this list complete.
QUERY_NAMES = [
    "q",
    "citizen",
    "national_id",
    "issued",
    "day",
    "format",
    "agency",
    "fragment",
    "page",
    "since",
    "until",
    "branch",
    "actor",
    "action",
    "print",
    "layout",
    "next",
    "language",
]
_CONVERTER = re.compile(r"<(?:(?P<converter>[^>:]+):)?(?P<parameter>[^>]+)>")


def _patterns(resolver=None, namespace="", pieces=()):
    """(name, pattern pieces from the root) for every URL pattern, includes and admin too."""
    resolver = resolver or get_resolver()
    for pattern in resolver.url_patterns:
        if isinstance(pattern, URLResolver):
            ns = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
            yield from _patterns(pattern, ns, (*pieces, pattern.pattern))
        elif isinstance(pattern, URLPattern):
            yield f"{namespace}{pattern.name or '(unnamed)'}", (*pieces, pattern.pattern)


ALL_PATTERNS = list(_patterns())
OURS = [(name, pieces) for name, pieces in ALL_PATTERNS if not name.startswith("admin:")]
ADMIN = [(name, pieces) for name, pieces in ALL_PATTERNS if name.startswith("admin:")]


def _path_strategy(name: str, pieces: tuple) -> st.SearchStrategy[str]:
    """The pattern's path, each parameter either a working value or a hostile one."""
    known = list(MATRIX.get(name, ((), {}))[0])
    parts: list[st.SearchStrategy[str]] = []
    for piece in pieces:
        route = getattr(piece, "_route", None)
        if route is None:  # a regular expression: a string it matches, or hostile text
            regex = str(piece.regex.pattern)
            parts.append(
                st.one_of(
                    st.from_regex(regex, fullmatch=True).map(lambda s: _encoded(s, safe="/")),
                    hostile_text.map(lambda s: _encoded(s) + "/"),
                )
            )
            known = known[1:]
            continue
        position = 0
        for match in _CONVERTER.finditer(route):
            parts.append(st.just(_encoded(route[position : match.start()], safe="/")))
            position = match.end()
            working = str(known.pop(0)) if known else "1"
            hostile = (
                st.sampled_from(EDGE_NUMBERS).map(str)
                if match["converter"] == "int"
                else hostile_text
            )
            parts.append(st.one_of(st.just(working), hostile).map(_encoded))
        parts.append(st.just(_encoded(route[position:], safe="/")))
    return st.tuples(*parts).map(lambda strings: "/" + "".join(strings))


query_params = st.lists(
    st.tuples(st.one_of(st.sampled_from(QUERY_NAMES), hostile_text), hostile_text),
    max_size=4,
)


# The roles: an agent, a branch supervisor, a regional supervisor, head office, an auditor
# and nobody logged in (agent_b and regional_other differ from these by scope only).
ROLES = [ANON, "agent_a", "supervisor_a", "regional_a", "head_office", "auditor"]
assert set(ROLES) <= set(PERSONAS)


@pytest.fixture
def clients(personas, branch_b) -> dict[str, Client]:
    """One client per role, logged in once and kept across examples."""
    result = {}
    for role in ROLES:
        result[role] = Client()
        if role != ANON:
            result[role].force_login(personas[role])
    return result


def _get_as_everyone(clients: dict[str, Client], url: str) -> None:
    for role, client in clients.items():
        response = client.get(url)
        assert response.status_code < 500, (role, url, response.status_code)


def test_the_walk_finds_every_named_url():
    assert {name for name, _pieces in OURS} == set(_all_url_names())
    assert len(ADMIN) > 100  # the admin's patterns are walked as well


def _fixed_path(name: str, pieces: tuple, *, number: int | None, text: str | None) -> str:
    """The pattern's path with its working values, or with one hostile number and text."""
    known = list(MATRIX.get(name, ((), {}))[0])
    if number is None and known:
        try:
            return reverse(name, args=known)
        except NoReverseMatch:  # a working value of the matrix no longer fits this pattern
            pass
    path = ""
    for piece in pieces:
        route = getattr(piece, "_route", None)
        if route is None:  # a regular expression: replaced whole
            path += _encoded(text or "1") + "/"
            continue

        def fill(match: re.Match) -> str:
            value = number if match["converter"] == "int" else text
            return _encoded(str(value if value is not None else 1))

        path += _CONVERTER.sub(fill, route)
    return "/" + path


DAY_NAMES = ["day", "since", "until"]
NUMBER_NAMES = ["page", "citizen", "issued"]


def _examples(name: str, pieces: tuple) -> list[tuple[str, list[tuple[str, str]]]]:
    """The same hostile classes for every pattern, every run: each one found a 500 once."""
    working = _fixed_path(name, pieces, number=None, text=None)
    return [
        # Far days and huge numbers only where a view reads them: an unknown format or
        # action would refuse the request before the day or the page is looked at.
        (working, [(query, "9999-12-31") for query in DAY_NAMES]),
        (working, [(query, "0001-01-01") for query in DAY_NAMES]),
        (working, [(query, str(2**63 - 1)) for query in NUMBER_NAMES]),
        (working, [(query, "٩" * 30) for query in NUMBER_NAMES]),
        (working, [(query, "9" * 3000) for query in QUERY_NAMES]),
        (working, [(query, "१२３²") for query in QUERY_NAMES]),
        (_fixed_path(name, pieces, number=2**63, text="a\x00"), []),
        (_fixed_path(name, pieces, number=10**30, text="ب" * 3000), [("q", "a\x00")]),
    ]


def test_no_url_of_ours_answers_a_server_error_to_anyone(clients):
    """Each pattern in turn (one set of logins for all: they are the slow part)."""
    for name, pieces in OURS:

        @RUNS
        @given(path=_path_strategy(name, pieces), params=query_params)
        def check(path, params):
            query = _query_string(params)
            _get_as_everyone(clients, f"{path}?{query}" if query else path)

        for path, params in _examples(name, pieces):
            check = example(path=path, params=params)(check)
        check()


admin_request = st.sampled_from(ADMIN).flatmap(lambda item: _path_strategy(*item))


def test_no_admin_url_answers_a_server_error_to_anyone(clients, django_user_model):
    """The admin's own views, for every role and for a superuser, who gets past its login."""
    superuser = django_user_model.objects.create_superuser("root", password="x-pass-123")
    clients = {**clients, "superuser": Client()}
    clients["superuser"].force_login(superuser)

    @settings(RUNS, max_examples=EXAMPLES * 8)
    @given(path=admin_request, params=query_params)
    def check(path, params):
        query = _query_string(params)
        _get_as_everyone(clients, f"{path}?{query}" if query else path)

    check()


def test_every_query_parameter_a_view_reads_is_sent():
    root = Path(__file__).resolve().parents[2]
    read = set()
    for app in (
        "agents",
        "audit",
        "counter",
        "dashboard",
        "float_management",
        "settlement",
        "receipts",
    ):
        for source in (root / app).rglob("*.py"):
            read |= set(re.findall(r"request\.GET\.get\(\s*\"([^\"]+)\"", source.read_text()))
    read |= {"day", "since", "until", "branch", "actor", "action"}  # forms given request.GET
    assert read <= set(QUERY_NAMES), read - set(QUERY_NAMES)


# --- Forms posted with hostile values ---------------------------------------------------

# Values no field may accept: each has NUL, a surrogate's bytes, other scripts' digits,
# is a huge or negative number, a day at the calendar's ends, or is overlong.
refused_value = st.one_of(
    st.text(min_size=0, max_size=10).map(lambda text: text + NUL),
    st.text(alphabet=st.sampled_from(SURROGATES), min_size=1, max_size=4),
    st.text(alphabet=st.sampled_from(OTHER_DIGITS), min_size=1, max_size=20),
    st.integers(min_value=10**15, max_value=10**40).map(str),
    st.integers(min_value=-(10**40), max_value=-1).map(str),
    st.sampled_from(FAR_DAYS[:5]),
    st.integers(min_value=3000, max_value=6000).map(lambda n: "9" * n),
)


def _body(fields: list[tuple[str, str]]) -> bytes:
    return _query_string(fields).encode("ascii")


@pytest.mark.parametrize("url_name", sorted(POST))
def test_a_hostile_post_never_answers_a_server_error_and_moves_no_money_when_refused(
    url_name, request
):
    """As the role allowed to post it: every value hostile (refused: no money moves), or
    some values hostile among working ones (reaching further into the view)."""
    scene = request.getfixturevalue("world")
    persona, url, body, _get_kind = _request_of(url_name, scene)
    user = scene["personas"].get(persona)
    n = len(body)

    @RUNS
    @given(
        every=st.lists(refused_value, min_size=n, max_size=n),
        some=st.lists(st.one_of(st.none(), hostile_text), min_size=n, max_size=n),
        all_hostile=st.booleans(),
        extra=st.lists(st.tuples(hostile_text, hostile_text), max_size=2),
    )
    def check(every, some, all_hostile, extra):
        client = Client()  # the test client skips the CSRF check
        if user is not None:
            client.force_login(user)
        if all_hostile:
            fields = list(zip(body, every, strict=True))
        else:
            fields = [
                (name, value if bad is None else bad)
                for (name, value), bad in zip(body.items(), some, strict=True)
            ]
        transfers = Transfer.objects.count()
        response = client.post(
            url, _body(fields + extra), content_type="application/x-www-form-urlencoded"
        )
        assert response.status_code < 500, (url, fields, response.status_code)
        if all_hostile:
            assert Transfer.objects.count() == transfers, (url, fields)
        assert ledger_verify().ok

    check()


def test_a_login_with_an_overlong_username_is_refused_and_records_no_attempt(client, agent_a):
    """Found by the walk: django-axes recorded the name in a 255-character column (a 500)."""
    from axes.models import AccessAttempt

    response = client.post(reverse("login"), {"username": "9" * 500, "password": "x"})
    assert response.status_code == 200
    assert response.context["form"].errors["username"]
    assert not AccessAttempt.objects.exists()
