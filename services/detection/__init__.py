"""The detection service: the disclosure stream watched for the shape of a breach."""
