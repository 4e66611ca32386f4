"""The audit log: append-only, hash-chained entries in many independent streams."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from agents.models import Branch
from audit import chain


class AuditEntry(models.Model):
    """One event, linked to the previous entry of its stream by `prev_hash`.

    `hash` covers `prev_hash` and the canonical content (see `content`), so
    editing, deleting or reordering rows in the database breaks the chain at
    that row, which `manage.py audit_verify` reports. Nobody changes rows
    through the app; on PostgreSQL a trigger refuses UPDATE and DELETE.
    """

    stream = models.CharField(_("stream"), max_length=120)
    seq = models.PositiveBigIntegerField(_("sequence"))
    prev_hash = models.CharField(_("previous hash"), max_length=64)
    hash = models.CharField(_("hash"), max_length=64)
    at = models.DateTimeField(_("time"), default=timezone.now)
    # PROTECT: a person who appears in the audit log is never deleted (deactivate instead).
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("person"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    # Kept as written at the time: usernames change, and a failed login names nobody real.
    actor_username = models.CharField(_("username"), max_length=150, blank=True)
    action = models.CharField(_("action"), max_length=60)
    object_type = models.CharField(_("object type"), max_length=60, blank=True)
    object_id = models.CharField(_("object id"), max_length=64, blank=True)
    branch = models.ForeignKey(
        Branch,
        verbose_name=_("branch"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    data = models.JSONField(_("details"), default=dict, blank=True)

    class Meta:
        verbose_name = _("audit entry")
        verbose_name_plural = _("audit log")
        constraints = [
            models.UniqueConstraint(fields=["stream", "seq"], name=chain.CHAIN_CONSTRAINT)
        ]
        indexes = [
            models.Index(fields=["at"], name="audit_at"),
            models.Index(fields=["branch", "at"], name="audit_branch_at"),
            models.Index(fields=["actor_username", "at"], name="audit_actor_at"),
        ]

    def __str__(self) -> str:
        return f"{self.stream} #{self.seq} {self.action}"

    def content(self) -> dict:
        return chain.content_of(
            stream=self.stream,
            seq=self.seq,
            at=self.at,
            actor_id=self.actor_id,
            actor_username=self.actor_username,
            action=self.action,
            object_type=self.object_type,
            object_id=self.object_id,
            branch_id=self.branch_id,
            data=self.data,
        )

    def computed_hash(self) -> str:
        return chain.entry_hash(self.prev_hash, self.content())

    @property
    def hash_matches(self) -> bool:
        return self.computed_hash() == self.hash


class StreamHead(models.Model):
    """The last seq and hash of each stream, kept by the database itself.

    A trigger on the audit table moves the head forward in the same statement
    as each insert (so an append costs no extra round trip), and it runs as the
    tables' owner: the app's role can read heads but not write them. On
    PostgreSQL heads never move back and are never deleted or truncated, so a
    stream whose last entries (or all of them) disappear still has a head
    saying how far it went, which `audit_verify` compares with the entries.
    """

    stream = models.CharField(_("stream"), max_length=120, primary_key=True)
    seq = models.PositiveBigIntegerField(_("sequence"))
    hash = models.CharField(_("hash"), max_length=64)

    class Meta:
        verbose_name = _("audit stream head")
        verbose_name_plural = _("audit stream heads")

    def __str__(self) -> str:
        return f"{self.stream} #{self.seq}"
