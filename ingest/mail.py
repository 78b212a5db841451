"""E-mail (.eml): the headers and body as one section, each readable attachment as more sections.

Attachments of a supported format are read by the loader of their format (from a temporary
file, named by their extension only); the others are named in the text as not ingested.
"""

from __future__ import annotations

import email
import email.policy
import mimetypes
import tempfile
from email.message import EmailMessage, Message
from pathlib import Path
from typing import cast

from ingest.decoding import decode_text
from ingest.document import LoadedFile, Section, has_words
from rag.errors import LoaderError

_HEADERS = ("From", "To", "Date", "Subject")
# The standard library's header parser can still raise these on malformed headers.
_HEADER_ERRORS = (ValueError, TypeError, IndexError, AttributeError, LookupError)


def _header(message: Message, name: str) -> str:
    try:
        value = message.get(name)
        return " ".join(str(value).split()) if value is not None else ""
    except _HEADER_ERRORS:
        return ""


def _part_text(part: Message) -> str:
    """A text part's content, in its declared charset, else decoded like a text file."""
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return ""
    charset = part.get_content_charset()
    if charset:
        try:
            return payload.decode(charset)
        except (LookupError, UnicodeDecodeError):
            pass
    try:
        return decode_text(payload)
    except LoaderError:  # a binary "body": leave it out, keep the rest of the message
        return ""


def _body(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain", "html"))
    if part is None:
        return ""
    text = _part_text(part)
    if part.get_content_subtype() == "html":
        from ingest.loaders import html_text  # here: loaders imports this module

        text = html_text(text)[1]
    return text.strip()


def _attachment_bytes(part: Message) -> bytes:
    if part.get_content_type() == "message/rfc822":  # a forwarded message
        inner = part.get_payload(0)
        return inner.as_bytes() if isinstance(inner, Message) else b""
    payload = part.get_payload(decode=True)
    return payload if isinstance(payload, bytes) else b""


def _attachment_name(part: Message) -> str:
    """The attachment's file name (never a path); without one, a name from its type."""
    name = Path((part.get_filename() or "").replace("\\", "/")).name
    if name:
        return name
    content_type = part.get_content_type()
    suffix = ".eml" if content_type == "message/rfc822" else mimetypes.guess_extension(content_type)
    return f"attachment{suffix}" if suffix else f"unnamed attachment ({content_type})"


def _load_attachment(name: str, data: bytes) -> LoadedFile:
    from ingest.loaders import LOADERS  # here: loaders imports this module

    suffix = Path(name).suffix.lower()
    with tempfile.TemporaryDirectory(prefix="rag-attachment-") as folder:
        path = Path(folder) / f"attachment{suffix}"
        path.write_bytes(data)
        return LOADERS[suffix](path)


def _attachments(message: EmailMessage) -> tuple[list[Section], list[str]]:
    """Sections of the readable attachments, and a line for each other one."""
    from ingest.loaders import LOADERS  # here: loaders imports this module

    sections: list[Section] = []
    skipped: list[str] = []
    for part in message.iter_attachments():
        if part.get_content_maintype() == "image" and part.get_content_disposition() == "inline":
            continue  # pictures in the body (logos, signatures)
        name = _attachment_name(part)
        if Path(name).suffix.lower() not in LOADERS:
            skipped.append(f"Attachment not ingested: {name} (unsupported format)")
            continue
        data = _attachment_bytes(part)
        if not data:
            skipped.append(f"Attachment not ingested: {name} (empty)")
            continue
        try:
            loaded = _load_attachment(name, data)
        except LoaderError as exc:
            skipped.append(f"Attachment not ingested: {name} ({exc})")
            continue
        for section in loaded.sections:
            parts = [f"Attachment: {name}"]
            if section.page is not None:
                parts.append(f"page {section.page}")
            if section.heading:
                parts.append(section.heading)
            sections.append(Section(text=section.text, heading=" > ".join(parts)))
    return sections, skipped


def load_eml(path: Path) -> LoadedFile:
    """A first line with From, To, Date and Subject, then the body (plain text, else the HTML
    part's visible text), then a line per attachment not ingested."""
    # policy.default makes an EmailMessage (get_body, iter_attachments)
    message = cast(EmailMessage, email.message_from_bytes(path.read_bytes(), policy=email.policy.default))
    headers = {name: _header(message, name) for name in _HEADERS}
    if not any(headers.values()):
        raise LoaderError(
            "not an e-mail message (no From, To, Date or Subject header): save the message "
            "from your mail program as .eml"
        )
    first = " | ".join(f"{name}: {value}" for name, value in headers.items() if value)
    attachments, skipped = _attachments(message)
    text = "\n\n".join(part for part in (first, _body(message), "\n".join(skipped)) if part)
    sections = [Section(text=text)] + [s for s in attachments if has_words(s.text)]
    return LoadedFile(title=headers["Subject"] or path.stem, sections=sections)
