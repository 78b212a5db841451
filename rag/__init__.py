"""Private knowledge base: cited answers from a company's own documents, fully offline."""

__version__ = "0.1.0"
