"""What a result becomes for people: the result card, the PDF report and the signed share link."""
