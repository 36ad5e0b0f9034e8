"""What `python3 install.py` does, one job per module.

    cli           the options and the three commands: install, --uninstall, --check
    check         --check: a diagnosis that changes nothing
    profiles      where GIMP 2.10 and 3.x keep their profiles on each platform
    plugin_files  copying the plug-in into a profile, its manifest, and taking it away again
    engine_env    the engine's virtual environment and its packages (pip)
    unmet         run inside that environment: which requirements it lacks
    pyproject     the engine's requirements, read from pyproject.toml (their one home)
    engine_probe  asks the engine itself (`python -m core.selfcheck`) whether it works
    engine_config which engine the plug-in uses (neural_style_config.json): local or a server
    engine_service the engine server for a Flatpak GIMP: systemd user socket and service units
    server_probe  asks an engine server whether it answers (GET /v1/health)
    flatpak       Flathub's GIMP on this machine, and a distribution's GIMP 3 beside it
    demo          the example result at the end
    processes     running other programs with a clean environment
    console       what the user reads, and InstallError for failures they can act on
    checkout      where this checkout is

All of it runs with the system's Python 3 (3.8 or newer) and its standard library only:
it runs before any environment with other packages exists.
"""
