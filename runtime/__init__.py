"""modspike.runtime"""
