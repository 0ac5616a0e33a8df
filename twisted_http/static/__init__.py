"""The static-files handler and its helpers: paths, types, validators, ranges, the
cache of lookups and the listing page.
"""
