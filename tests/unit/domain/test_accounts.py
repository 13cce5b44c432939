"""Accounts on an in-memory repository and a clock the test moves: keys, the key cache, revocation."""

from __future__ import annotations

import pytest

from storyloom.domain.accounts import KEY_PREFIX, Accounts, hash_key
from storyloom.domain.errors import NotFound, Unauthenticated
from tests.support.fakes import FakeClock, InMemoryAccountRepository


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def repo() -> InMemoryAccountRepository:
    return InMemoryAccountRepository()


@pytest.fixture
def accounts(repo: InMemoryAccountRepository, clock: FakeClock) -> Accounts:
    return Accounts(repo, clock=clock)


async def test_a_new_key_names_its_user_and_only_its_hash_is_kept(accounts: Accounts,
                                                                  repo: InMemoryAccountRepository) -> None:
    user = await accounts.create_user("Mia")
    key = await accounts.create_key(user.id)

    assert key.startswith(KEY_PREFIX)
    assert await accounts.authenticate(key) == user.id
    assert list(repo.keys) == [hash_key(key)]
    assert key not in repr(repo.keys)


@pytest.mark.parametrize(("key", "reason"), [(None, "API_KEY_MISSING"), ("", "API_KEY_MISSING"),
                                             ("sl_not-a-key", "API_KEY_INVALID")])
async def test_a_missing_or_unknown_key_is_refused_with_the_reason(accounts: Accounts, key: str | None,
                                                                   reason: str) -> None:
    with pytest.raises(Unauthenticated) as refused:
        await accounts.authenticate(key)
    assert refused.value.reason == reason


async def test_a_key_is_looked_up_once_per_cache_period(accounts: Accounts, repo: InMemoryAccountRepository,
                                                        clock: FakeClock) -> None:
    user = await accounts.create_user("Mia")
    key = await accounts.create_key(user.id)

    await accounts.authenticate(key)
    clock.advance(Accounts.CACHE_SECONDS - 1)
    await accounts.authenticate(key)
    assert repo.lookups == 1

    clock.advance(2)
    await accounts.authenticate(key)
    assert repo.lookups == 2


async def test_known_answers_only_a_key_authenticate_accepted_within_the_cache_period(
        accounts: Accounts, repo: InMemoryAccountRepository, clock: FakeClock) -> None:
    user = await accounts.create_user("Mia")
    key = await accounts.create_key(user.id)
    assert accounts.known(key) is None and accounts.known(None) is None and accounts.known("") is None

    await accounts.authenticate(key)
    clock.advance(Accounts.CACHE_SECONDS - 1)
    assert accounts.known(key) == user.id and accounts.known("sl_not-a-key") is None
    assert repo.lookups == 1  # known never reads the repository
    clock.advance(2)
    assert accounts.known(key) is None  # expired: authenticate reads it again

    await accounts.authenticate(key)
    await accounts.revoke_key(key)
    assert accounts.known(key) is None


async def test_a_revoked_key_stops_working_here_at_once(accounts: Accounts) -> None:
    user = await accounts.create_user("Mia")
    key = await accounts.create_key(user.id)
    await accounts.authenticate(key)  # cached

    assert await accounts.revoke_key(key) is True
    with pytest.raises(Unauthenticated):
        await accounts.authenticate(key)
    assert await accounts.revoke_key(key) is False  # nothing left to revoke


async def test_a_revoked_key_stops_working_elsewhere_when_the_cache_expires(repo: InMemoryAccountRepository,
                                                                            clock: FakeClock) -> None:
    here, elsewhere = Accounts(repo, clock=clock), Accounts(repo, clock=clock)  # two replicas, one database
    user = await here.create_user("Mia")
    key = await here.create_key(user.id)
    await elsewhere.authenticate(key)

    await here.revoke_key(key)
    assert await elsewhere.authenticate(key) == user.id  # within CACHE_SECONDS

    clock.advance(Accounts.CACHE_SECONDS + 1)
    with pytest.raises(Unauthenticated):
        await elsewhere.authenticate(key)


async def test_a_key_for_a_user_that_does_not_exist_is_not_made(accounts: Accounts,
                                                                repo: InMemoryAccountRepository) -> None:
    with pytest.raises(NotFound):
        await accounts.create_key("nobody")
    assert repo.keys == {}
    assert await accounts.has_users() is False
