"""Reporting: figures and Markdown summary of a simulated scenario."""

from .figures import write_figures
from .summary import write_summary

__all__ = ["write_figures", "write_summary"]
