"""The Bilibili live chat connector: the open platform or a public web room."""
