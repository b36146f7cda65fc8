"""Names, jobs and wishes for demo owners and renters, from across India."""

from __future__ import annotations

FEMALE_NAMES = (
    "Aadhya", "Ananya", "Anjali", "Bhavna", "Deepika", "Divya", "Fatima", "Gayatri", "Ishita", "Kavya",
    "Lakshmi", "Meera", "Neha", "Nandini", "Pooja", "Priya", "Radhika", "Riya", "Sakshi", "Sana",
    "Shreya", "Sneha", "Swati", "Tanvi", "Trisha", "Vidya", "Zoya", "Harpreet", "Keerthana", "Moumita",
)  # fmt: skip

MALE_NAMES = (
    "Aarav", "Abhishek", "Aditya", "Amit", "Arjun", "Bharat", "Farhan", "Gaurav", "Harish", "Imran",
    "Karthik", "Kunal", "Manish", "Mohit", "Naveen", "Pranav", "Rahul", "Rajesh", "Rohan", "Sandeep",
    "Siddharth", "Suresh", "Tarun", "Varun", "Vikram", "Vivek", "Yash", "Gurpreet", "Subhash", "Arnab",
)  # fmt: skip

SURNAMES = (
    "Agarwal", "Banerjee", "Bhat", "Chatterjee", "Desai", "Gupta", "Iyer", "Jain", "Joshi", "Kapoor",
    "Khan", "Kulkarni", "Kumar", "Menon", "Mehta", "Mishra", "Mukherjee", "Nair", "Patel", "Pillai",
    "Rao", "Reddy", "Saxena", "Shah", "Sharma", "Singh", "Sinha", "Srinivasan", "Verma", "Yadav",
)  # fmt: skip

EMPLOYERS = (
    "Infosys", "Tata Consultancy Services", "Wipro", "HCLTech", "Accenture", "Flipkart", "Swiggy",
    "Zomato", "HDFC Bank", "ICICI Bank", "Reliance Retail", "Deloitte", "Amazon", "Razorpay", "Zoho",
    "Mahindra", "Apollo Hospitals", "Byju's", "Freshworks", "Larsen & Toubro",
)  # fmt: skip

DESIGNATIONS = (
    "Software Engineer", "Senior Software Engineer", "Product Manager", "Data Analyst", "Business Analyst",
    "Chartered Accountant", "Marketing Manager", "UX Designer", "Consultant", "Relationship Manager",
    "Doctor", "Operations Executive", "HR Business Partner", "Sales Manager", "QA Engineer",
)  # fmt: skip

LIFESTYLE_PRIORITIES = (
    "low pollution", "quiet neighbourhood", "walkable", "near metro", "near parks", "good schools",
    "safety", "nightlife", "near hospitals", "short commute",
)  # fmt: skip

EMPLOYMENT_TYPES = ("salaried", "salaried", "salaried", "self-employed")
