"""TLS towards clients (bolt+s/bolt+ssc) and towards backends."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import neo4j
import pytest
from click.testing import CliRunner

from boltproxy.cli import main
from boltproxy.config import BackendSettings
from boltproxy.shadow.noise import PrimaryRerun
from boltproxy.shadow.settings import NoiseSettings
from tests.support.fakeneo import NEO4J_5_26, FakeNeo4j, run_in_thread
from tests.support.proxy import proxy_settings, running_proxy
from tests.support.shadow_answers import answer, exchange

AUTH = ("neo4j", "password")


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed; it makes the test certificate")
    directory = tmp_path_factory.mktemp("tls")
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeNeo4j]:
    with run_in_thread(FakeNeo4j(profile=NEO4J_5_26)) as server:
        yield server


def test_clients_over_tls_and_backends_over_tls(
    certificate: tuple[Path, Path], fake: FakeNeo4j
) -> None:
    cert, key = certificate
    front = proxy_settings(fake.uri, listen={"tls_cert": cert, "tls_key": key})
    with running_proxy(front) as tls_proxy:
        # A client speaking bolt+ssc (encrypted, certificate not checked).
        with neo4j.GraphDatabase.driver(
            f"bolt+ssc://127.0.0.1:{tls_proxy.port}", auth=AUTH
        ) as driver:
            assert driver.execute_query("RETURN 1 AS x").records[0]["x"] == 1
        # A client verifying the certificate against our CA (bolt:// + encrypted
        # is how the driver takes a custom CA; it means bolt+s with that CA).
        with neo4j.GraphDatabase.driver(
            f"bolt://localhost:{tls_proxy.port}",
            auth=AUTH,
            encrypted=True,
            trusted_certificates=neo4j.TrustCustomCAs(str(cert)),
        ) as driver:
            assert driver.execute_query("RETURN 2 AS x").records[0]["x"] == 2
        # A second proxy reaching the first as its backend, verified and self-signed.
        for uri, extra in (
            (f"bolt+s://localhost:{tls_proxy.port}", {"ca_file": cert}),
            (f"bolt+ssc://127.0.0.1:{tls_proxy.port}", {}),
        ):
            back = proxy_settings(uri)
            for name, value in extra.items():
                setattr(back.backends["blue"], name, value)
            with (
                running_proxy(back) as plain_proxy,
                neo4j.GraphDatabase.driver(plain_proxy.uri, auth=AUTH) as driver,
            ):
                assert driver.execute_query("RETURN 3 AS x").records[0]["x"] == 3


def test_plain_client_against_a_tls_listener_is_refused(
    certificate: tuple[Path, Path], fake: FakeNeo4j
) -> None:
    cert, key = certificate
    settings = proxy_settings(fake.uri, listen={"tls_cert": cert, "tls_key": key})
    with (
        running_proxy(settings) as proxy,
        neo4j.GraphDatabase.driver(proxy.uri, auth=AUTH, connection_timeout=3) as driver,
        pytest.raises(neo4j.exceptions.DriverError),
    ):
        driver.verify_connectivity()


def test_noise_re_runs_reach_a_tls_backend_through_its_own_ca(
    certificate: tuple[Path, Path], fake: FakeNeo4j
) -> None:
    cert, key = certificate
    front = proxy_settings(fake.uri, listen={"tls_cert": cert, "tls_key": key})
    noise = NoiseSettings.model_validate({"user": AUTH[0], "password": AUTH[1]})
    query = exchange("RETURN 1 AS x", answer(["x"], [[1]]), answer(["x"], [[1]]))
    with running_proxy(front) as tls_proxy:
        uri = f"bolt+s://localhost:{tls_proxy.port}"
        for backend, answered in (
            (BackendSettings(uri=uri, ca_file=cert), True),
            (BackendSettings(uri=uri), False),  # the system's trust store: refused
        ):
            rerun = PrimaryRerun({"blue": backend}, noise, AUTH[1], 10.0,
                                 max_records=10, max_bytes=1 << 20)  # fmt: skip
            try:
                second = rerun.run("blue", query)
            finally:
                rerun.close()
            assert (second is not None) is answered
            if second is not None:
                assert second.records == answer(["x"], [[1]]).records


def test_replay_trusts_a_private_ca_given_with_ca_file(
    certificate: tuple[Path, Path], fake: FakeNeo4j, tmp_path: Path
) -> None:
    cert, key = certificate
    capture = tmp_path / "capture.jsonl"
    capture.write_text(json.dumps({"session": "s1", "query": "RETURN 1 AS x"}) + "\n")
    front = proxy_settings(fake.uri, listen={"tls_cert": cert, "tls_key": key})
    with running_proxy(front) as tls_proxy:
        uri = f"bolt+s://localhost:{tls_proxy.port}"
        store = str(tmp_path / "replay.db")
        replay = ["replay", str(capture), "--blue", uri, "--green", uri,
                  "--user", AUTH[0], "--password", AUTH[1], "--store", store]  # fmt: skip
        # The system's trust store alone does not know the proxy's certificate.
        refused = CliRunner().invoke(main, replay)
        assert refused.exit_code == 1
        assert "CERTIFICATE_VERIFY_FAILED" in refused.output
        # With its CA both servers are verified and replayed: same answers, exit 0.
        trusted = CliRunner().invoke(main, [*replay, "--ca-file", str(cert)])
        assert trusted.exit_code == 0, trusted.output
    bad = tmp_path / "not-a-ca.pem"
    bad.write_text("not a certificate\n")
    unusable = CliRunner().invoke(main, [*replay, "--ca-file", str(bad)])
    assert unusable.exit_code == 1
    assert f"cannot use --ca-file {bad}" in unusable.output
