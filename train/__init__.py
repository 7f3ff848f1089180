"""modspike.train"""
