"""The token server: ZEGO's app-server endpoint (``GET /api/token?userID=...``) for production."""
