"""The staging kit: a realistic, local Almafrica environment built in seconds from real parts.

PostgreSQL (``stage.pg``), the EF Core fixture scripts (``stage.fixtures``), and, as they land, the
Almafrica-like application and the Coolify-compatible API. Shared by the tests, molecule and ``make rehearse``.
"""
