"""axe-core in the page a browser test has open: what a screen reader or a keyboard user would
stumble on, at the impacts that block them (serious, critical)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .tools import missing

AXE = Path(__file__).resolve().parents[1] / "js" / "node_modules" / "axe-core" / "axe.min.js"


async def blocking_violations(page: Any) -> list[tuple[str, str]]:
    """(rule, impact) of each serious or critical violation; skips where axe-core is absent. The
    page's context must bypass the CSP, which forbids the injected script."""
    if not AXE.exists():
        missing("axe-core")
    await page.add_script_tag(path=str(AXE))
    results = await page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    return [
        (violation["id"], violation["impact"])
        for violation in results["violations"]
        if violation["impact"] in ("serious", "critical")
    ]
