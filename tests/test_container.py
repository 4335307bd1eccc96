"""The container files: compose wires the daemon to PostgreSQL; the image runs as non-root."""

from __future__ import annotations

from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]


def test_compose_runs_the_image_next_to_postgresql() -> None:
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    services = compose["services"]
    assert services["postgres"]["image"].startswith("postgres:")
    daemon = services["sanctionwatch"]
    assert daemon["image"].startswith("sanctionwatch")
    assert "postgres" in daemon["depends_on"]
    environment = daemon["environment"]
    assert "SANCTIONWATCH_DATABASE_URL_FILE" in environment
    assert "SLACK_BOT_TOKEN_FILE" in environment
    for secret in daemon["secrets"]:
        assert secret in compose["secrets"]


def test_dockerfile_contract() -> None:
    lines = [line.strip() for line in (REPO / "Dockerfile").read_text().splitlines()]
    assert 'ENTRYPOINT ["sanctionwatch"]' in lines
    assert 'CMD ["run"]' in lines
    assert any(line.startswith("HEALTHCHECK") for line in lines)
    users = [line.split()[1] for line in lines if line.startswith("USER ")]
    assert users and users[-1].split(":")[0] not in {"0", "root"}
    assert any("pip check" in line for line in lines)
    assert 'VOLUME ["/data"]' in lines
