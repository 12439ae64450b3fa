"""adclear: find online ads promoting illegal fundraising, review them, keep the clearance ledger."""

__version__ = "0.1.0"
