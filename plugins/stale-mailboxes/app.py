"""stale-mailboxes: mailboxes nobody has logged on to for `days` days (default 90), or ever.

Streams Get-Mailbox page by page through the host's `query` resource, reads each mailbox's
Get-MailboxStatistics and emits {"UserPrincipalName", "LastLogonTime", "DaysSinceLogon"} for the
stale ones (LastLogonTime and DaysSinceLogon are null for a mailbox never logged on to).
A mailbox whose statistics cannot be read does not stop the others: it is counted in the
contract's standard summary fields `failed` and `errors`, so the host reports the run as failed
work. Summary: {"stale": n, "checked": m, "failed": f, "errors": ["<mailbox>: <why>", ...]}.

Built with componentize-py against wit/plugin.wit (world `automation`): see
scripts/build-plugins.sh.
"""

import json
import re
from datetime import datetime, timedelta, timezone

import wit_world
from componentize_py_types import Err
from wit_world.imports import exchange, log, output, progress

DEFAULT_DAYS = 90

# Most error texts the summary carries (the count goes on past them), as the Rust SDK keeps.
MAX_ERRORS = 100

# Exchange prints dates as 2026-01-01T08:07:47.0000000+00:00 (or ...Z in the *UTC properties).
_DATE = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:\.\d+)?(Z|[+-]\d{2}:?\d{2})?$"
)

_ERROR_KINDS = {
    exchange.CmdletError_Denied: "denied",
    exchange.CmdletError_NotFound: "not-found",
    exchange.CmdletError_InvalidParameter: "invalid-parameter",
    exchange.CmdletError_Unauthorized: "unauthorized",
    exchange.CmdletError_Throttled: "throttled",
    exchange.CmdletError_Transport: "transport",
    exchange.CmdletError_Service: "service",
    exchange.CmdletError_DryRun: "dry-run",
}


class PluginFailure(Exception):
    """A failure that ends the run with this message."""


class Failures:
    """The mailboxes whose work failed: the summary's standard `failed` and `errors` fields."""

    def __init__(self):
        self.failed = 0
        self.errors = []

    def add(self, unit, error):
        self.failed += 1
        if len(self.errors) < MAX_ERRORS:
            self.errors.append(f"{unit}: {error}")

    def fields(self):
        return {"failed": self.failed, "errors": self.errors} if self.errors else {"failed": self.failed}


def describe(error):
    """A cmdlet error as `kind: text`."""
    return f"{_ERROR_KINDS.get(type(error), 'error')}: {getattr(error, 'value', error)}"


def parse_time(text):
    """An Exchange date as an aware datetime, or None if it is not one."""
    match = _DATE.match(text.strip())
    if not match:
        return None
    year, month, day, hour, minute, second = (int(g) for g in match.groups()[:6])
    try:
        moment = datetime(year, month, day, hour, minute, second, tzinfo=timezone.utc)
    except ValueError:
        return None
    zone = match.group(7)
    if zone and zone != "Z":
        sign = 1 if zone[0] == "+" else -1
        digits = zone[1:].replace(":", "")
        moment -= sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
    return moment


def read_days(input_text):
    """The `days` of the input JSON (default 90)."""
    text = input_text.strip()
    if text in ("", "null"):
        return DEFAULT_DAYS
    try:
        data = json.loads(text)
    except ValueError as e:
        raise PluginFailure(f"the input is not valid JSON: {e}")
    if not isinstance(data, dict):
        raise PluginFailure('the input must be a JSON object such as {"days": 90}')
    unknown = sorted(set(data) - {"days"})
    if unknown:
        raise PluginFailure(f"the input does not fit this plugin: unknown field `{unknown[0]}`, expected `days`")
    days = data.get("days", DEFAULT_DAYS)
    if days is None:
        return DEFAULT_DAYS
    if isinstance(days, bool) or not isinstance(days, int) or days < 0:
        raise PluginFailure(f"the input does not fit this plugin: field `days`: expected a whole number of days >= 0, got {json.dumps(days)}")
    return days


def statistics(mailbox, failures):
    """The mailbox's Get-MailboxStatistics row, or None if it has none or it cannot be read
    (counted in `failures`)."""
    identity = mailbox.get("Guid") or mailbox.get("UserPrincipalName") or mailbox.get("PrimarySmtpAddress")
    if not identity:
        log.log(log.Level.WARN, "a mailbox without Guid, UserPrincipalName or PrimarySmtpAddress was skipped")
        return None
    try:
        rows = exchange.invoke("Get-MailboxStatistics", json.dumps({"Identity": identity}))
    except Err as e:
        if isinstance(e.value, exchange.CmdletError_NotFound):
            log.log(log.Level.WARN, f"no statistics for {identity}: {e.value.value}")
            return None
        log.log(log.Level.WARN, f"no statistics for {identity}: {describe(e.value)}")
        failures.add(identity, f"Get-MailboxStatistics: {describe(e.value)}")
        return None
    return json.loads(rows[0]) if rows else None


def emit(record):
    try:
        output.emit(json.dumps(record, separators=(",", ":")))
    except Err as e:
        raise PluginFailure(f"the run's output refused a record: {e.value}")


def audit(days):
    now = datetime.now(timezone.utc)
    cutoff = now - timedelta(days=days)
    stale = checked = listed = 0
    failures = Failures()
    params = json.dumps({"ResultSize": "Unlimited"})
    with exchange.Query("Get-Mailbox", params) as query:
        while True:
            try:
                page = query.next_page()
            except Err as e:
                raise PluginFailure(f"Get-Mailbox: {describe(e.value)}")
            if page is None:
                break
            for text in page:
                mailbox = json.loads(text)
                listed += 1
                stats = statistics(mailbox, failures)
                if stats is None:
                    continue
                checked += 1
                last = stats.get("LastLogonTime")
                if last is None:
                    age = None
                else:
                    moment = parse_time(str(last))
                    if moment is None:
                        log.log(log.Level.WARN, f"{mailbox.get('UserPrincipalName')}: cannot read LastLogonTime {last!r}")
                        continue
                    if moment >= cutoff:
                        continue
                    age = (now - moment).days
                emit({"UserPrincipalName": mailbox.get("UserPrincipalName"), "LastLogonTime": last, "DaysSinceLogon": age})
                stale += 1
            progress.report(listed, 0, f"{listed} mailboxes, {stale} stale")
    log.log(log.Level.INFO, f"{stale} of {checked} mailboxes not logged on to for {days} days, {failures.failed} not read")
    return {"stale": stale, "checked": checked, **failures.fields()}


class WitWorld(wit_world.WitWorld):
    def run(self, input: str) -> str:
        try:
            return json.dumps(audit(read_days(input)), separators=(",", ":"))
        except PluginFailure as e:
            raise Err(str(e))
        except Err:
            raise
        except Exception as e:  # a bug here: end the run with a message rather than a trap
            raise Err(f"stale-mailboxes failed: {type(e).__name__}: {e}")
