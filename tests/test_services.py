"""The test command's own PostgreSQL and Redis (tests/services.py), when none answers.

The ports probed here are free ones (nothing listens): the machine's servers on 5432 and
6379 are neither used nor stopped.
"""

from __future__ import annotations

import pytest
import redis
from sqlalchemy import create_engine, make_url, text

from .servers import free_port
from .services import answers, services

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.redis]


def test_servers_of_the_run_s_own_are_started_then_stopped_when_none_answers() -> None:
    postgres_port, redis_port = free_port(), free_port()
    assert not answers(postgres_port)
    assert not answers(redis_port)
    with services(postgres_port, redis_port) as env:
        postgres_url = make_url(env["QUEUE_APP_TEST_POSTGRES"])
        redis_url = env["QUEUE_APP_TEST_REDIS"]
        engine = create_engine(postgres_url)
        try:
            with engine.connect() as connection:
                assert connection.execute(text("SELECT 1")).scalar_one() == 1
        finally:
            engine.dispose()
        client = redis.Redis.from_url(redis_url)
        try:
            assert client.ping()
        finally:
            client.close()
        own_redis_port = client.connection_pool.connection_kwargs["port"]
    # Stopped when the command ends.
    assert postgres_url.port is not None
    assert not answers(postgres_url.port)
    assert not answers(own_redis_port)


def test_a_server_that_answers_is_used_as_it_is(monkeypatch: pytest.MonkeyPatch) -> None:
    if not (answers(5432) and answers(6379)):
        pytest.skip("the machine's PostgreSQL and Redis do not both answer")
    monkeypatch.delenv("QUEUE_APP_TEST_POSTGRES", raising=False)
    monkeypatch.delenv("QUEUE_APP_TEST_REDIS", raising=False)
    with services() as env:
        assert make_url(env["QUEUE_APP_TEST_POSTGRES"]).port == 5432
        assert env["QUEUE_APP_TEST_REDIS"] == "redis://127.0.0.1:6379/0"
