print("llm-bench")
