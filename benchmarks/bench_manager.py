"""The public cached read, `secrets_manager.retrieve_secret`, against `dict.get`, measured in one
run on a private real gnome-keyring (the default store where there is a Secret Service).

    .venv/bin/python benchmarks/bench_manager.py

Target (issue 6, item 16): <= 3x dict.get through the public API. Also printed: the storage-level
read (the floor) and the manager's former indirection (a method calling `self.storage.…`).
"""

from __future__ import annotations

from _timing import best_of, keychain


def run() -> None:
    from mcp_secrets import secrets_manager
    from mcp_secrets.backends.secret_service import SecretServiceBackend
    from mcp_secrets.manager import MCPSecretsManager

    secrets_manager.initialize("bench-manager", backend=SecretServiceBackend())
    secrets_manager.store_secret("api_key", "sk-bench-value")
    try:
        secrets_manager.retrieve_secret("api_key")
        d = {"api_key": "sk-bench-value"}
        t = best_of({
            "dict": ("d.get('api_key')", {"d": d}),
            "public": ("m.retrieve_secret('api_key')", {"m": secrets_manager}),
            "storage": ("s.retrieve_secret('api_key')", {"s": secrets_manager.storage}),
            "former": ("f(m, 'api_key')",
                       {"m": secrets_manager, "f": MCPSecretsManager.retrieve_secret}),
        })
        t_dict, t_public, t_storage, t_former = t["dict"], t["public"], t["storage"], t["former"]
        print(f"dict.get:                                  {t_dict * 1e9:7.1f} ns")
        print(f"secrets_manager.retrieve_secret (public):  {t_public * 1e9:7.1f} ns  "
              f"{t_public / t_dict:.2f}x dict.get (target <= 3x)")
        print(f"storage.retrieve_secret (floor):           {t_storage * 1e9:7.1f} ns  "
              f"{t_storage / t_dict:.2f}x dict.get")
        print(f"former manager indirection:                {t_former * 1e9:7.1f} ns  "
              f"{t_former / t_dict:.2f}x dict.get")
    finally:
        secrets_manager.clear_secrets()


def main() -> None:
    with keychain():
        run()


if __name__ == "__main__":
    main()
