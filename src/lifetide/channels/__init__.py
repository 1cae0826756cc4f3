"""Delivery: SMTP, .eml files and HTTP providers for SMS and push; bounces and complaints.

The modules are imported one by one (`lifetide.channels.smtp`, `.webhook`, `.bounces`,
`.select`), so reading a bounce does not load the HTTP and SMTP clients.
"""
