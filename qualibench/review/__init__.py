"""The review workspace: auditors code replies blind in the browser, adjudicators settle
disagreements, analysts clear the inbox; over the same library functions as the CLI."""

from .coding import assign_replies, code_reply, coding_item, queue
from .people import ADJUDICATOR, ANALYST, AUDITOR, ROLES, add_reviewer, new_login_link

__all__ = ["ADJUDICATOR", "ANALYST", "AUDITOR", "ROLES", "add_reviewer", "assign_replies", "code_reply",
           "coding_item", "new_login_link", "queue"]
