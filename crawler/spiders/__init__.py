"""Scrapy spiders of trawler."""
