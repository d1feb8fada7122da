"""The sender of a message, read from the raw ``From`` header per RFC 5322.

The address is parsed before any RFC 2047 encoded-word is decoded (the standard library's
header registry does this), so an encoded display name can never supply or change the
address: ``=?utf-8?q?Someone_<victim@example.org>?= <me@example.org>`` is me@example.org,
and Outlook's ``"Surname, First"`` stays one name. An address holding a control character
or white space is refused, and so is a header whose decoded name holds a line break.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from email.headerregistry import AddressHeader
from email.policy import default as default_policy
from functools import lru_cache
from typing import NamedTuple

#: RFC 5321 allows 254 characters in a forward path's address; longer is not a mailbox.
MAX_ADDRESS = 254
#: A From header is a name and an address: anything this long is not read further.
MAX_HEADER_CHARS = 2000
MAX_NAME = 500

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_NOT_IN_ADDRESS = re.compile(r"[\x00-\x20\x7f-\x9f\u2028\u2029]")
_FOLD = re.compile(r"\r?\n(?=[ \t])")
#: RFC 2047 encoded-words may stand in a display name or a comment, never in an address.
_ENCODED_WORD = re.compile(r"=\?[^?\s]+\?[bBqQ]\?[^?\s]*\?=")


@dataclass(frozen=True)
class Sender:
    """The sender as parsed: display name, lower-cased address ("" when none or refused),
    and why it was refused or doubtful (``problem``)."""

    name: str = ""
    address: str = ""
    problem: str | None = None


class _Mailbox(NamedTuple):
    """What is read of one mailbox (as :class:`email.headerregistry.Address` names it)."""

    display_name: str
    addr_spec: str
    domain: str


#: ``Name <address>`` or a bare address in the plainest form (ASCII words, a dot-atom
#: address): what the header parser reads from it is plain to see.
_ADDR_SPEC = r"[A-Za-z0-9_+-]+(?:\.[A-Za-z0-9_+-]+)*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*"
_PLAIN_MAILBOX = re.compile(
    rf"(?P<name>[A-Za-z0-9]+(?: [A-Za-z0-9]+)*) <(?P<addr>{_ADDR_SPEC})>|(?P<bare>{_ADDR_SPEC})")


def _plain_mailbox(value: str) -> _Mailbox | None:
    match = _PLAIN_MAILBOX.fullmatch(value)
    if match is None:
        return None
    address = match.group("addr") or match.group("bare")
    return _Mailbox(match.group("name") or "", address, address.rpartition("@")[2])


@lru_cache(maxsize=4096)
def _mailboxes(value: str) -> tuple[_Mailbox, ...]:
    # a respondent writes more than once; the header parser is slow, and the plainest
    # values need none
    plain = _plain_mailbox(value)
    if plain is not None:
        return (plain,)
    header = default_policy.header_factory("from", value)
    assert isinstance(header, AddressHeader)
    return tuple(_Mailbox(a.display_name, a.addr_spec, a.domain) for a in header.addresses)


def parse_sender(values: Sequence[str]) -> Sender:
    """The sender named by the raw value(s) of a ``From`` header (first one used).

    Of several mailboxes the first with a domain is taken; bare words before it are what an
    unquoted ``Surname, First <address>`` leaves, and are kept as part of the name.
    """
    if not values:
        return Sender()
    raw = _FOLD.sub("", str(values[0]))[:MAX_HEADER_CHARS]
    name_refused = False
    try:
        mailboxes = _mailboxes(raw)
    except ValueError:
        # the registry refuses a decoded name with CR or LF in it: read the address with
        # the encoded-words left out, and drop the name
        name_refused = True
        try:
            mailboxes = _mailboxes(_ENCODED_WORD.sub("name", raw))
        except ValueError:
            mailboxes = ()
    except Exception:  # the header parser gave up on this value: nobody is named
        return Sender(problem="From header could not be parsed: no sender")
    chosen = next((m for m in mailboxes if m.domain), mailboxes[0] if mailboxes else None)
    if chosen is None:
        return Sender(problem="From header names no address" if raw.strip() else None)
    address = chosen.addr_spec.strip()
    if address == "<>":
        address = ""
    name = "" if name_refused else chosen.display_name
    bare = [m.addr_spec for m in mailboxes[:mailboxes.index(chosen)]
            if not m.domain and not m.display_name]
    if bare and not name_refused:
        name = ", ".join([*bare, name] if name else bare)
    name = " ".join(_CONTROL.sub("", name).split())[:MAX_NAME]
    problem = ("From header: a line break in the encoded name (a forged sender?); "
               "name dropped") if name_refused else None
    if _NOT_IN_ADDRESS.search(address):
        return Sender(name, "", "From address with control characters or spaces refused")
    if len(address) > MAX_ADDRESS:
        return Sender(name, "", f"From address longer than {MAX_ADDRESS} characters refused")
    return Sender(name, address.lower(), problem)


__all__ = ["Sender", "parse_sender"]
