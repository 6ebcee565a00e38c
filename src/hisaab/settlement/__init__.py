"""Money out: merchants' terms, their fees, the settlement ledger and payouts.

fees      rate cards (MDR by instrument and sub-rail) and GST on fees, rounded per line
calendar  working days per bank: T+n counted on them, due dates rolled forward
ledger    the line kinds every balance movement is booked as
compute   one merchant's settlement for one cycle, as ledger lines that sum to its net
"""
