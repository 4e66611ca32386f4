"""English is longer than Arabic: at 1280 px the supervisors' screens still hold their shape.

Measured in the browser (getBoundingClientRect, text ranges), never by eye: the
navigation stays on one line, the report's actions keep clear of the card below,
and a figure such as "8,062.75 / 100,000.00" never breaks over two lines.
"""

import pytest

from tests.e2e.conftest import screenshot

WIDTH, HEIGHT = 1280, 800

# How many lines each element's text takes (a Range has one client rect per line box).
TEXT_LINES = """(elements) => elements.map((element) => {
  const range = document.createRange();
  range.selectNodeContents(element);
  const tops = new Set([...range.getClientRects()].map((rect) => Math.round(rect.top)));
  return {text: element.textContent.trim(), lines: tops.size};
})"""


def _english_page(login, username):
    page = login(username, language="en")
    page.set_viewport_size({"width": WIDTH, "height": HEIGHT})
    page.wait_for_selector('html[lang="en"]')
    return page


@pytest.mark.parametrize("username", ["sup.01001", "reg.01", "headoffice"])
def test_the_supervisors_navigation_is_one_line_in_english(login, username):
    page = _english_page(login, username)
    links = page.locator(".topnav a")
    assert links.count() >= 2
    tops = links.evaluate_all("(links) => links.map((a) => a.getBoundingClientRect().top)")
    lines = links.evaluate_all(TEXT_LINES)
    # The name and role may take two lines to make room; the buttons beside them may not.
    buttons = page.locator(".topbar-end .link-button").evaluate_all(TEXT_LINES)
    screenshot(page, f"layout_english/nav-{username}")
    assert len(set(tops)) == 1, f"nav links on several rows: {tops}"
    assert [link for link in lines if link["lines"] != 1] == []
    assert len(buttons) == 2  # the language switch and log out
    assert [button for button in buttons if button["lines"] != 1] == []


def test_the_report_actions_keep_clear_of_the_card_below(login, server):
    page = _english_page(login, "sup.01001")
    with page.expect_navigation(wait_until="load"):
        page.click(".topnav a:text('Daily report')")
    page.wait_for_selector(".report-actions button[type=button]")
    gaps = page.evaluate(
        """() => {
          const card = document.querySelector(".report-actions ~ .card");
          const top = card.getBoundingClientRect().top;
          return [...document.querySelectorAll(".report-actions a, .report-actions button")]
            .map((el) => ({
              text: el.textContent.trim(),
              gap: top - el.getBoundingClientRect().bottom,
            }));
        }"""
    )
    screenshot(page, "layout_english/report")
    assert len(gaps) == 4  # Show, CSV, PDF, Print
    assert [g for g in gaps if g["gap"] < 8] == []


def test_the_regional_boards_till_figures_do_not_wrap(login, server):
    page = _english_page(login, "reg.01")
    page.wait_for_selector("#board table.grid td.num")
    figures = page.locator("#board table.grid td.num")
    lines = figures.evaluate_all(TEXT_LINES)
    screenshot(page, "layout_english/regional-board")
    assert any(" / " in figure["text"] for figure in lines)  # cash / limit is on the board
    assert [figure for figure in lines if figure["lines"] != 1] == []
