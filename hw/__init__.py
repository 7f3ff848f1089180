"""modspike.hw"""
