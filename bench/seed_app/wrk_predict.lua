-- wrk -s bench/seed_app/wrk_predict.lua http://127.0.0.1:PORT/predict
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.body = "location=California&keyword=wildfire&message=Forest+fire+near+La+Ronge+Sask.+Canada"
