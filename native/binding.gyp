{
  "targets": [
    {
      "target_name": "trellis_netns",
      "sources": ["original_dst.c"]
    }
  ]
}
