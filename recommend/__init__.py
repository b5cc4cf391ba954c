"""Product recommendations from chat, the stage product and viewer engagement (FAISS)."""
