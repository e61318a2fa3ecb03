"""Who is asking: the authentication modes (``none``, ``api_key``, ``jwt``) and their chain."""
