"""What every browser test does: sign staff in, and check a page the way its users meet it."""

from axe_playwright_python.sync_playwright import Axe
from django.urls import reverse
from playwright.sync_api import expect

STAFF_PASSWORD = "staff-password-123"  # the cast's (see conftest.py)


def log_in_staff(page, live_server, username: str) -> None:
    page.goto(f"{live_server.url}{reverse('login')}")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(STAFF_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", level=1, name="Patients")).to_be_visible()


def check_page(page, artifacts_dir, name: str) -> None:
    """No serious or critical axe-core violations, and a full-page screenshot for people to look at."""
    page.screenshot(path=artifacts_dir / f"{name}.png", full_page=True)
    violations = Axe().run(page).response["violations"]
    serious = [f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']]}"
               for v in violations if v["impact"] in ("serious", "critical")]
    assert not serious, f"{name}: " + "; ".join(serious)
