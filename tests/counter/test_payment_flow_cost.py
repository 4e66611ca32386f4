"""What one cash payment costs the database through the counter screen, pinned.

Three round trips: the form (its total shown), the confirming POST (posts the
payment and prints the original, answering with the receipt page), and the
print's PDF. Statements are counted as the server sends them: the savepoints
that the test's own transaction turns each atomic block into are left out.
"""

import re

from django.db import connection
from django.urls import reverse

from counter.citizen_links import citizen_token

# Each request reads the login session and the person (with their profile): 2 × 3.
FORM = 4  # + the citizen and the agent's till (the closing notice)
CONFIRM = 17  # + the citizen, the posting's 10, the original's 4, the payment's lines
PDF = 4  # + the print with its payment and what the receipt names, the payment's lines
FLOW = FORM + CONFIRM + PDF


class _Statements:
    def __init__(self):
        self.sql = []

    def __call__(self, execute, sql, params, many, context):
        if not sql.startswith(("SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK TO SAVEPOINT")):
            self.sql.append(sql)
        return execute(sql, params, many, context)


def _counted(call):
    statements = _Statements()
    with connection.execute_wrapper(statements):
        response = call()
    assert response.status_code == 200, response.status_code
    return response, len(statements.sql)


def test_a_cash_payment_is_three_round_trips_and_a_fixed_number_of_statements(
    client, agent_a, fixed_service, citizen, open_till
):
    client.force_login(agent_a)
    token = citizen_token(agent=agent_a, citizen=citizen)
    url = reverse("counter:pay", args=[fixed_service.code]) + f"?citizen={token}"
    counts = []
    # The first payment fills the catalog's cache (once a minute per process) and makes the
    # branch's fee accounts (once ever); then each costs the same: nothing grows with the day.
    for _ in range(3):
        form, form_statements = _counted(lambda: client.get(url))
        key = re.search(r'name="idempotency_key" value="([0-9a-f]{32})"', form.content.decode())
        data = {
            "ref_licence": "123456",
            "method": "cash",
            "tendered": "100",
            "citizen": token,
            "idempotency_key": key.group(1),
            "confirm": "direct",  # the form's own button
        }
        page, confirm_statements = _counted(lambda data=data: client.post(url, data))
        link = re.search(r'data-print="([^"]+)"', page.content.decode()).group(1)
        pdf, pdf_statements = _counted(lambda link=link: client.get(link))
        assert pdf["Content-Type"] == "application/pdf"
        counts.append((form_statements, confirm_statements, pdf_statements))
    assert counts[1:] == [(FORM, CONFIRM, PDF)] * 2
    assert sum(counts[-1]) == FLOW == 25
