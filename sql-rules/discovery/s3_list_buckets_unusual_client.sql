/*
id = "aws.discovery.s3_list_buckets_unusual_client"
title = "S3 buckets listed by root or an IAM user with a transfer tool or raw HTTP client"
severity = "info"
description = """
Detects a successful S3 ListBuckets by the root user or an IAM user (long-term credentials) whose user agent is a bulk-transfer tool or raw HTTP client rather than the console, AWS CLI or an SDK: rclone, s3cmd, Cyberduck or Mountain Duck, S3 Browser, WinSCP, CloudBerry, curl, wget, python-requests, Go-http-client, Postman, Insomnia, legacy boto 2, or an offensive tool or distribution (Pacu, CloudFox, Kali, Parrot, Pentoo).
Listing buckets with such a client is a common first step before copying data out with the same tool. On its own it is only informational; alerts are grouped per principal for a day.
"""
tactics = ["TA0007"]
techniques = ["T1619"]
references = [
  "https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListBuckets.html",
  "https://docs.aws.amazon.com/AmazonS3/latest/userguide/cloudtrail-logging-s3-info.html",
]
false_positives = [
  "Backup or sync jobs that use rclone, s3cmd or Cyberduck with a dedicated IAM user",
  "Developers testing signed requests with curl or Postman",
]
runbook = "Check whether useridentity.arn normally uses this useragent from sourceipaddress, then look for GetObject or ListObjects data events by the same principal in the following hours."
tags = ["s3", "recon", "discovery"]
dedup_key = ["useridentity.arn"]
dedup_period = "1d"
*/
SELECT *
FROM cloudtrail
WHERE eventsource = 's3.amazonaws.com'
  AND eventname = 'ListBuckets'
  AND errorcode IS NULL
  AND useridentity.type IN ('Root', 'IAMUser')
  AND useridentity.invokedby IS NULL
  AND regexp_like(lower(coalesce(useragent, '')), 'rclone|s3cmd|cyberduck|mountain ?duck|s3 ?browser|winscp|cloudberry|curl/|wget/|python-requests/|go-http-client/|postman|insomnia/|boto/2|pacu|cloudfox|kali|parrot|pentoo')
