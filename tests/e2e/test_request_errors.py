"""A background request that fails says so in the page instead of leaving it unchanged.

htmx swaps nothing on an error or a dropped connection; the agent typing into a
type-ahead search would see no answer at all.
"""

from tests.e2e.conftest import screenshot

ALERT = "#request-error:not([hidden])"


def _service_search(login, server):
    page = login("agent.01001.1", language="en")
    with page.expect_navigation(wait_until="load"):  # htmx binds its triggers on load
        page.goto(server + "/counter/services/search/")
    page.wait_for_selector("#service-q:focus")
    return page


def test_a_pasted_megabyte_is_cut_to_what_the_search_reads(login, server):
    page = _service_search(login, server)
    # daphne drops a request line over 16 KB unanswered: the box takes no more than the
    # search reads, so the paste is cut in the browser and the search answers.
    page.fill("#service-q", "x" * 1_000_000)
    assert page.eval_on_selector("#service-q", "box => box.value.length") == 100
    page.wait_for_selector("#service-results:has-text('No service matches what you typed.')")
    assert page.is_hidden("#request-error")


def test_a_search_the_server_never_answers_says_so(login, server):
    page = _service_search(login, server)
    page.route("**/counter/services/search/?q=water*", lambda route: route.abort("failed"))
    page.fill("#service-q", "water")
    alert = page.wait_for_selector(ALERT, timeout=10_000)
    screenshot(page, "request_errors/no-answer")
    assert "The server did not answer" in alert.inner_text()


def test_a_refused_search_shows_the_servers_reason_and_the_next_answer_clears_it(login, server):
    page = _service_search(login, server)
    # Under DEBUG (as here) django-htmx's debug script shows a 400/403/404/500 page in place
    # of the document; a 429 it leaves to htmx, as production leaves every error.
    refusal = '<main><section class="card"><h1>Slow down</h1><p>Too many searches.</p></section>'
    page.route(
        "**/counter/services/search/?q=water*",
        lambda route: route.fulfill(status=429, content_type="text/html", body=refusal),
    )
    page.fill("#service-q", "water")
    alert = page.wait_for_selector(ALERT, timeout=10_000)
    assert alert.inner_text() == "Too many searches."
    page.fill("#service-q", "licence")
    page.wait_for_selector("#request-error[hidden]", state="attached")
    page.wait_for_selector("#service-results a")
