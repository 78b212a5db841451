"""The pages of the chat page (scripts run by st.navigation, see ui/app.py)."""
