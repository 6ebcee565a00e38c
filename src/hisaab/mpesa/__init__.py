"""M-Pesa (Safaricom Daraja): result codes, payload parsing, the Daraja client and a sandbox.

    codes              the STK result-code table and `classify()`
    phones             normalising, masking and classifying MSISDNs
    payloads/          pure parsing of callbacks, answers, C2B bodies and status Results
    protocol           paths, Kenya time, the STK password: what client and sandbox share
    session            OAuth tokens and HTTP transport to Daraja
    client             `DarajaClient`: STK Push, STK Query, Transaction Status, C2B
    errors             MpesaPayloadError, MpesaNotConfigured, DarajaError, DarajaAuthError
    sandbox            `create_sandbox()`: a Daraja-compatible ASGI app for tests and demos
    sandbox_state      its memory; sandbox_checks: its request checks;
    sandbox_scenarios  what happens to a push, and the bodies it posts;
    sandbox_control    its control endpoints (/sandbox/...)

Only the sandbox modules import FastAPI, and this file imports none of the modules.
"""
