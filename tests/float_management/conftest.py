"""The till's day: a second agent and counter in branch A, a funded vault, an open till."""

import pytest

from agents.models import Role
from tests.factories import CounterFactory, person
from tests.float_management.helpers import OPENING_FLOAT, VAULT_START, fund_vault, open_and_approve


@pytest.fixture
def counter_a2(branch_a):
    return CounterFactory(branch=branch_a, number=2)


@pytest.fixture
def agent_a2(branch_a, counter_a2):
    return person("agent_a2", Role.AGENT, branch=branch_a)


@pytest.fixture
def funded_vault(branch_a, supervisor_a, agent_a2):
    """Branch A's vault holding VAULT_START, received from the bank (agent_a2 witnessing)."""
    fund_vault(branch=branch_a, supervisor=supervisor_a, witness=agent_a2, amount=VAULT_START)


@pytest.fixture
def open_session(agent_a, counter_a, supervisor_a, funded_vault, denominations):
    """agent_a's till at counter_a, open with OPENING_FLOAT."""
    return open_and_approve(
        agent=agent_a, counter=counter_a, supervisor=supervisor_a, amount=OPENING_FLOAT
    )
