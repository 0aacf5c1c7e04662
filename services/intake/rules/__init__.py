"""Rule data (YAML) for the intake domain; a package so setuptools ships the files."""
