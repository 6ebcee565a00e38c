"""Hisaab: reconcile what the payment gateway says against what the bank and the wallet say."""

__version__ = "0.1.0"
