"""Map the three source trees onto the single import package ``friedel``.

framework/ -> friedel, formats/ -> friedel.formats, plugins/ -> friedel.plugins.
Sub-packages are discovered so that adding a folder with an ``__init__.py`` is enough.
"""
import os

from setuptools import find_packages, setup

SOURCE_TREES = {"friedel": "framework", "friedel.formats": "formats", "friedel.plugins": "plugins"}

packages, package_dir = [], {}
for package, folder in SOURCE_TREES.items():
    if not os.path.isdir(folder):
        continue
    package_dir[package] = folder
    packages.append(package)
    for sub in find_packages(folder):
        packages.append(f"{package}.{sub}")
        package_dir[f"{package}.{sub}"] = f"{folder}/{sub.replace('.', '/')}"

setup(packages=packages, package_dir=package_dir, package_data={"": ["*.json", "*.phil"]})
