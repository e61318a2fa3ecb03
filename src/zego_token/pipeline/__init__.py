"""The framework-neutral token pipeline: a request and an identity become a decision and a token.

Used by the standalone server (``zego_token.server``) and the framework adapters
(``zego_token.integrations``); it imports neither, nor any web framework.
"""
