"""What a run costs: WaveSpeed's quote for its inputs, cached by what moves the price.

`POST /api/v3/model/price` evaluates the model's formula server-side; it is free and safe
to repeat, but it is a network call behind a price label that follows every keystroke, so
quotes are cached per API base, model and price-driving inputs (`ModelSpec.price_drivers`,
or every scalar input when the catalog gives no formula), asked once at a time per key,
bounded in time, and a failure is remembered briefly instead of asked again at once. The
catalog's formula stays the offline estimate, shown with "≈" until a quote comes.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, Protocol

from playground.model.seedance import SeedanceRequest

log = logging.getLogger(__name__)

QUOTE_TTL_S = 3600.0  # prices change with the catalog, which is read hourly
FAILURE_TTL_S = 30.0  # a quote endpoint that failed is not asked again for this long
QUOTE_WAIT_S = 5.0  # a label or a click waits this long for a quote, then estimates
MAX_QUOTES = 2048  # cached quotes kept; the oldest go first


class Quoter(Protocol):
    base_url: str

    async def quote(self, model_id: str, inputs: dict[str, Any]) -> Any: ...


@dataclass(frozen=True)
class Price:
    """A run's price as the page shows it: `usd` None is unknown; `quoted` is WaveSpeed's
    own figure, else the catalog's estimate."""

    usd: float | None
    quoted: bool = False

    @property
    def known(self) -> bool:
        return self.usd is not None


class Prices:
    """Quotes cached across sessions: the same inputs cost the same for everyone."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._quotes: dict[tuple[str, str, str], tuple[float, float | None]] = {}
        self._asking: dict[tuple[str, str, str], asyncio.Future[float | None]] = {}

    def cached(self, base_url: str, request: SeedanceRequest) -> Price:
        """The price known without asking: a cached quote, else the estimate."""
        hit = self._quotes.get(_key(base_url, request))
        if hit is not None and hit[1] is not None and self._fresh(hit):
            return Price(hit[1], quoted=True)
        return Price(request.estimate_usd)

    async def price(self, client: Quoter, request: SeedanceRequest) -> Price:
        """The quote for `request` (asked at most once at a time for the same inputs), or
        the estimate when WaveSpeed cannot quote it now."""
        key = _key(client.base_url, request)
        hit = self._quotes.get(key)
        if hit is not None and self._fresh(hit):
            return Price(hit[1], quoted=True) if hit[1] is not None else Price(request.estimate_usd)
        if key not in self._asking:
            task = asyncio.ensure_future(self._ask(client, request, key))
            self._asking[key] = task
            task.add_done_callback(lambda _: self._asking.pop(key, None))
        try:
            usd = await asyncio.wait_for(asyncio.shield(self._asking[key]), QUOTE_WAIT_S)
        except (TimeoutError, asyncio.CancelledError):
            usd = None
        return Price(usd, quoted=True) if usd is not None else Price(request.estimate_usd)

    async def quoted(self, client: Quoter, request: SeedanceRequest) -> SeedanceRequest:
        """The request carrying its quote, when WaveSpeed gave one."""
        price = await self.price(client, request)
        return request if not price.quoted else _with_quote(request, price.usd)

    async def _ask(self, client: Quoter, request: SeedanceRequest, key: tuple) -> float | None:
        try:
            quote = await client.quote(request.model, quote_inputs(request))
            usd = float(quote.usd)
        except Exception as exc:
            log.info("no quote for %s: %s", request.model, exc)
            self._remember(key, None)
            return None
        self._remember(key, usd)
        return usd

    def _remember(self, key: tuple[str, str, str], usd: float | None) -> None:
        if len(self._quotes) >= MAX_QUOTES:
            del self._quotes[next(iter(self._quotes))]
        self._quotes[key] = (self._clock(), usd)

    def _fresh(self, hit: tuple[float, float | None]) -> bool:
        ttl = QUOTE_TTL_S if hit[1] is not None else FAILURE_TTL_S
        return self._clock() - hit[0] < ttl


def quote_inputs(request: SeedanceRequest) -> dict[str, Any]:
    """What a quote is asked with: every plain input, the model's defaults filled in (the
    server prices a missing input at its default, or at the model's floor)."""
    values = {**request.spec.defaults(), **request.inputs}
    kinds = {f.name: f.kind for f in request.spec.shown}  # not the API-only options
    return {
        k: v
        for k, v in values.items()
        if k in kinds
        and kinds[k] not in ("image", "images")
        and isinstance(v, str | int | float | bool)
    }


def _key(base_url: str, request: SeedanceRequest) -> tuple[str, str, str]:
    """Quotes are keyed by what moves the price: the formula's inputs, or, with no formula,
    every setting but free text (a prompt's every keystroke is not a new price)."""
    inputs = quote_inputs(request)
    if request.spec.formula:
        moving = {k: inputs.get(k) for k in request.spec.price_drivers}
    else:
        text = {f.name for f in request.spec.fields if f.kind == "text"}
        moving = {k: v for k, v in inputs.items() if k not in text}
    return base_url, request.model, json.dumps(moving, sort_keys=True, default=str)


def _with_quote(request: SeedanceRequest, usd: float | None) -> SeedanceRequest:
    return replace(request, quoted_usd=usd)
