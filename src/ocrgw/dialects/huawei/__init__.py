"""Huawei Cloud OCR (API v2): general text and passports, with X-Auth-Token or AK/SK signed requests."""
